/**
 * A sync tool that ignores cancellation keeps its Python thread, and its worker's slot, after its
 * call ended (deadline or cancel). Found by the chaos suite: such a worker kept answering heartbeats
 * and, looking idle to the host, was even preferred by the dispatcher, so every call sent to it
 * queued behind the stuck tool until its own deadline (a "black hole").
 *
 * The worker now reports its abandoned executions in every heartbeat; the host counts them as load
 * (no call is sent into a stuck slot; a call that just ended by deadline counts until the next
 * heartbeat settles it) and recycles a worker whose abandoned executions hold every slot, or keep
 * any for `wedgeBeats` heartbeats. `sleep` (SDK fixture) blocks in time.sleep and never looks at
 * ctx.cancelled.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PoolEvent, ToolPool } from '../src/index.js';
import { markedProcesses, openTestRun, rejectsWith, SDK_TOOLS, type TestRun, waitFor } from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

type Started = Extract<PoolEvent, { type: 'call_started' }>;
type Recycled = Extract<PoolEvent, { type: 'worker_recycled' }>;

/** Sequential echo calls from `callers` loops until `until()` holds and each made `atLeast` more. */
async function steadyCalls(
  pool: ToolPool,
  callers: number,
  atLeast: number,
  until: () => boolean,
): Promise<{ ok: number; failed: string[] }> {
  let ok = 0;
  const failed: string[] = [];
  const deadline = Date.now() + 20_000;
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      let after = 0;
      for (let i = 0; Date.now() < deadline && (after < atLeast || !until()); i++) {
        if (until()) after++;
        try {
          assert.equal(await pool.call('echo', { value: `${c}-${i}` }, { timeoutMs: 2000 }), `${c}-${i}`);
          ok++;
        } catch (e) {
          failed.push((e as { code?: string }).code ?? String(e));
        }
      }
    }),
  );
  return { ok, failed };
}

test('two workers with one slot each: after a stuck call, steady calls all succeed and its worker is recycled', async () => {
  // The pool's default heartbeat settings: an early heartbeat follows a call that ended by its
  // deadline, so the stuck slot is seen at once whatever the interval.
  const pool = await ToolPool.start({ tools: SDK_TOOLS, size: 2, concurrency: 1, graceMs: 200 });
  const events: PoolEvent[] = [];
  pool.on((e) => events.push(e));
  try {
    await rejectsWith(pool.call('sleep', { seconds: 3600 }, { timeoutMs: 300 }), 'ERR_DEADLINE_EXCEEDED');
    const stuck = events.find((e): e is Started => e.type === 'call_started' && e.tool === 'sleep')!;
    const mark = events.length;
    const recycled = (): Recycled | undefined =>
      events.find((e): e is Recycled => e.type === 'worker_recycled' && e.pid === stuck.pid);
    const { ok, failed } = await steadyCalls(pool, 2, 10, () => recycled() !== undefined);
    assert.deepEqual(failed, [], 'no call was lost to the stuck worker');
    assert.ok(ok >= 20);
    assert.equal(recycled()?.reason, 'wedged');
    const intoStuck = events
      .slice(mark)
      .filter((e): e is Started => e.type === 'call_started' && e.pid === stuck.pid);
    assert.deepEqual(intoStuck, [], 'no call was sent to the stuck worker after its call ended');
    assert.equal(pool.stats().restarts, 0, 'a recycle, not a crash restart');
    // A recycled process retires after its recycle event (drain, then stop): over the call lane the
    // ten steady calls above can all finish before it has exited, so wait for its exit event first.
    await waitFor(
      () => events.some((e) => e.type === 'worker_exited' && e.pid === stuck.pid),
      'the recycled stuck worker to exit',
    );
    assert.ok(
      !pool.stats().workers.some((w) => w.pid === stuck.pid),
      'the stuck process is gone from the pool',
    );
  } finally {
    await pool.stop();
  }
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});

test('a stuck tool holding one of two slots is recycled after wedgeBeats heartbeats; the free slot serves meanwhile', async () => {
  const pool = await ToolPool.start({
    tools: SDK_TOOLS,
    size: 1,
    concurrency: 2,
    heartbeatIntervalMs: 100,
    wedgeBeats: 3,
    graceMs: 200,
  });
  try {
    const stuckPid = pool.stats().workers[0]!.pid;
    await rejectsWith(pool.call('sleep', { seconds: 3600 }, { timeoutMs: 300 }), 'ERR_DEADLINE_EXCEEDED');
    await waitFor(() => pool.stats().workers[0]?.abandoned === 1, 'the abandoned slot to be reported', 5000);
    assert.equal(await pool.call('echo', { value: 'meanwhile' }, { timeoutMs: 2000 }), 'meanwhile');
    await waitFor(() => pool.stats().recycles >= 1, 'the wedged worker to be recycled', 10_000);
    await waitFor(
      () => pool.stats().workers.length === 1 && pool.stats().workers[0]!.pid !== stuckPid,
      'a fresh worker in its place',
      10_000,
    );
    assert.equal(pool.stats().workers[0]!.abandoned, 0);
    assert.equal(await pool.call('echo', { value: 'after' }, { timeoutMs: 5000 }), 'after');
    assert.equal(pool.stats().restarts, 0, 'a recycle, not a crash restart');
  } finally {
    await pool.stop();
  }
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});

test('wedgeBeats: Infinity never recycles, but the stuck slot gets no calls until the tool returns', async () => {
  const pool = await ToolPool.start({
    tools: SDK_TOOLS,
    size: 2,
    concurrency: 1,
    heartbeatIntervalMs: 100,
    wedgeBeats: Number.POSITIVE_INFINITY,
  });
  const events: PoolEvent[] = [];
  pool.on((e) => events.push(e));
  try {
    // The tool returns by itself after 1.5 s: its slot is abandoned until then, then free again.
    await rejectsWith(pool.call('sleep', { seconds: 1.5 }, { timeoutMs: 200 }), 'ERR_DEADLINE_EXCEEDED');
    const stuck = events.find((e): e is Started => e.type === 'call_started' && e.tool === 'sleep')!;
    const view = () => pool.stats().workers.find((w) => w.pid === stuck.pid);
    let seenAbandoned = false;
    let servedAgain = 0;
    const sentIntoStuckSlot: string[] = [];
    pool.on((e) => {
      if (e.type !== 'call_started' || e.pid !== stuck.pid) return;
      // Synchronous with the dispatch: what the dispatcher knew when it chose this worker.
      if ((view()?.abandoned ?? 0) > 0) sentIntoStuckSlot.push(e.callId);
      else servedAgain++;
    });
    const { failed } = await steadyCalls(pool, 1, 5, () => {
      if (view()?.abandoned === 1) seenAbandoned = true;
      return servedAgain > 0;
    });
    assert.deepEqual(failed, []);
    assert.ok(seenAbandoned, 'the abandoned slot was reported');
    assert.deepEqual(sentIntoStuckSlot, [], 'no call was sent into the abandoned slot');
    assert.ok(servedAgain > 0, 'once the tool returned, its worker took calls again');
    assert.equal(pool.stats().recycles, 0);
  } finally {
    await pool.stop();
  }
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});
