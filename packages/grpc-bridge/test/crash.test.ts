/**
 * Workers that die: SIGKILL mid-call fails the call at once with the signal, an idempotent call is
 * retried on another worker, the pool returns to full size; crash exit codes and signals are
 * reported; a crash loop reaches the restart intensity and takes the pool down with no Python left;
 * a worker that stops answering heartbeats is killed and replaced.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { currentNode, eventBus, type SupervisorEvent } from '@trellis/core';
import { type PoolEvent, ToolPool, type WorkerExitedError } from '../src/index.js';
import {
  ALL_TOOLS,
  alive,
  markedProcesses,
  nextEvent,
  openTestRun,
  rejectsWith,
  type TestRun,
  waitFor,
  waitForReady,
} from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

type Started = Extract<PoolEvent, { type: 'call_started' }>;

describe('a worker killed mid-call', () => {
  let pool: ToolPool;
  const events: PoolEvent[] = [];

  before(async () => {
    pool = new ToolPool({ tools: ALL_TOOLS, size: 2, name: 'crash' });
    pool.on((e) => events.push(e));
    await pool.start();
  });

  after(async () => {
    await pool.stop();
  });

  test('its call fails at once with ERR_WORKER_EXITED carrying SIGKILL, and the pool is back to full size', async () => {
    const started = nextEvent(pool, (e) => e.type === 'call_started' && e.tool === 'wait_cancel');
    const t0 = Date.now();
    const call = pool.call('wait_cancel', { flag: run.flag(), seconds: 60 }, { timeoutMs: 60_000 });
    const victim = ((await started) as Started).pid;
    process.kill(victim, 'SIGKILL');
    const err = await rejectsWith<WorkerExitedError>(call, 'ERR_WORKER_EXITED');
    assert.ok(Date.now() - t0 < 10_000, 'failed when the worker died, not at its 60 s time-out');
    assert.equal(err.signal, 'SIGKILL');
    assert.equal(err.exitCode, null);
    assert.equal(err.pid, victim);
    assert.equal(err.tool, 'wait_cancel');
    assert.match(err.message, /killed by SIGKILL/);
    await waitForReady(pool, 2);
    const pids = pool.stats().workers.map((w) => w.pid);
    assert.ok(!pids.includes(victim));
    assert.ok(!alive(victim));
    assert.equal(pool.stats().restarts, 1);
    const exited = events.find((e) => e.type === 'worker_exited' && e.pid === victim) as Extract<
      PoolEvent,
      { type: 'worker_exited' }
    >;
    assert.ok(exited);
    assert.equal(exited.signal, 'SIGKILL');
    assert.equal(exited.reason.code, 'ERR_WORKER_EXITED');
  });

  test('a worker killed with SIGKILL leaves neither its socket nor its lane socket behind', async () => {
    await waitForReady(pool, 2);
    const victim = pool.stats().workers[0]!.pid;
    // The worker's own clean-up never runs under SIGKILL: the host must remove what it listened on.
    const argv = readFileSync(`/proc/${victim}/cmdline`, 'utf8').split('\0');
    const listen = argv[argv.indexOf('--listen') + 1] ?? '';
    assert.match(listen, /^unix:/, 'the pool runs its workers on Unix sockets by default');
    const sock = listen.slice('unix:'.length);
    assert.ok(existsSync(sock) && existsSync(`${sock}.lane`), 'a live worker listens on both');
    process.kill(victim, 'SIGKILL');
    await waitFor(
      () => !pool.stats().workers.some((w) => w.pid === victim),
      'the pool to drop the dead worker',
    );
    await waitForReady(pool, 2);
    assert.equal(existsSync(sock), false, `${sock} is left`);
    assert.equal(existsSync(`${sock}.lane`), false, `${sock}.lane is left`);
  });

  test('an idempotent call is retried once on another worker and succeeds', async () => {
    await waitForReady(pool, 2);
    const retriedBefore = pool.stats().calls.retried;
    const started = nextEvent(
      pool,
      (e) => e.type === 'call_started' && e.tool === 'slow_add' && e.attempt === 0,
    );
    const call = pool.call('slow_add', { a: 40, b: 2, ms: 1500 }, { idempotent: true, timeoutMs: 30_000 });
    const first = (await started) as Started;
    const second = nextEvent(
      pool,
      (e) => e.type === 'call_started' && e.tool === 'slow_add' && e.attempt === 1,
    );
    process.kill(first.pid, 'SIGKILL');
    assert.equal(await call, 42);
    const retry = (await second) as Started;
    assert.notEqual(retry.pid, first.pid);
    assert.notEqual(retry.workerId, first.workerId);
    assert.equal(pool.stats().calls.retried, retriedBefore + 1);
    assert.ok(
      events.some(
        (e) => e.type === 'call_retried' && e.callId === first.callId && e.code === 'ERR_WORKER_EXITED',
      ),
    );
    await waitForReady(pool, 2);
  });

  test('a non-idempotent call on the same kind of death is not retried', async () => {
    await waitForReady(pool, 2);
    const started = nextEvent(pool, (e) => e.type === 'call_started' && e.tool === 'slow_add');
    const call = pool.call('slow_add', { a: 1, b: 1, ms: 1500 });
    process.kill(((await started) as Started).pid, 'SIGKILL');
    const err = await rejectsWith(call, 'ERR_WORKER_EXITED');
    assert.match(err.message, /not idempotent/);
    await waitForReady(pool, 2);
  });

  test('a stream whose worker dies delivers the items it got, then fails with ERR_WORKER_EXITED', async () => {
    await waitForReady(pool, 2);
    const s = pool.stream<number>('count', { n: 1000, delay_ms: 20 });
    const started = nextEvent(pool, (e) => e.type === 'call_started' && e.tool === 'count');
    const got: number[] = [];
    for (let i = 0; i < 3; i++) got.push((await s.next()).value as number);
    process.kill(((await started) as Started).pid, 'SIGKILL');
    const err = await rejectsWith<WorkerExitedError>(
      (async () => {
        for await (const x of s) got.push(x);
      })(),
      'ERR_WORKER_EXITED',
    );
    assert.equal(err.signal, 'SIGKILL');
    assert.deepEqual(
      got,
      Array.from({ length: got.length }, (_, i) => i + 1),
      'items in order, none invented',
    );
    assert.ok(got.length < 1000);
    await waitForReady(pool, 2);
  });

  test('a crash reports its exit code or signal', async () => {
    await waitForReady(pool, 2);
    const byExit = await rejectsWith<WorkerExitedError>(
      pool.call('crash', { mode: 'exit', code: 3 }),
      'ERR_WORKER_EXITED',
    );
    assert.equal(byExit.exitCode, 3);
    assert.equal(byExit.signal, null);
    await waitForReady(pool, 2);
    const byAbort = await rejectsWith<WorkerExitedError>(
      pool.call('crash', { mode: 'abort' }),
      'ERR_WORKER_EXITED',
    );
    assert.equal(byAbort.signal, 'SIGABRT');
    assert.equal(byAbort.exitCode, null);
    await waitForReady(pool, 2);
    assert.equal(await pool.call('add', { a: 1, b: 2 }), 3);
  });
});

describe('restart intensity', () => {
  test('a crash loop takes the pool down (shutdown) and leaves no Python process', async () => {
    const pool = new ToolPool({
      tools: ALL_TOOLS,
      size: 1,
      restartIntensity: 2,
      restartPeriodMs: 60_000,
      name: 'loop',
    });
    const events: PoolEvent[] = [];
    pool.on((e) => events.push(e));
    const supEvents: SupervisorEvent[] = [];
    const off = eventBus(currentNode()).on((e) => supEvents.push(e));
    await pool.start();
    const pids = new Set<number>();
    for (let i = 0; i < 3; i++) {
      pids.add(pool.stats().workers[0]?.pid ?? -1);
      // Each call waits in the queue for the restarted worker, then crashes it again.
      await rejectsWith(
        pool.call('crash', { mode: 'exit', code: 5 }, { timeoutMs: 30_000 }),
        'ERR_WORKER_EXITED',
      );
      if (i < 2) await waitForReady(pool, 1);
    }
    const sup = pool.pid;
    const reason = await pool.done;
    off();
    assert.equal(reason?.type, 'shutdown');
    assert.ok(
      supEvents.some((e) => e.type === 'intensity_reached' && e.supervisor === sup && e.intensity === 2),
    );
    assert.equal(pool.running, false);
    assert.equal(pool.stats().status, 'stopped');
    assert.equal(pool.stats().readyWorkers, 0);
    await rejectsWith(pool.call('add', { a: 1, b: 1 }), 'ERR_POOL_CLOSED');
    assert.ok(events.some((e) => e.type === 'pool_stopped'));
    for (const pid of pids) assert.ok(!alive(pid), `worker ${pid} is gone`);
    assert.deepEqual(markedProcesses(run.registry.runId), []);
  });
});

describe('heartbeats', () => {
  test('a worker that stops answering is killed with ERR_HEARTBEAT_MISSED and replaced', async () => {
    const pool = await ToolPool.start({
      tools: ALL_TOOLS,
      size: 1,
      heartbeatIntervalMs: 100,
      heartbeatMisses: 2,
      name: 'hb',
    });
    try {
      const victim = pool.stats().workers[0]!.pid;
      const exited = nextEvent(pool, (e) => e.type === 'worker_exited' && e.pid === victim);
      // A stopped process cannot answer; SIGKILL still ends it.
      process.kill(victim, 'SIGSTOP');
      const e = (await exited) as Extract<PoolEvent, { type: 'worker_exited' }>;
      assert.equal(e.reason.code, 'ERR_HEARTBEAT_MISSED');
      assert.match(e.reason.message, /missed 2 heartbeats/);
      await waitFor(() => !alive(victim), 'the stopped worker to be gone');
      await waitForReady(pool, 1);
      assert.notEqual(pool.stats().workers[0]!.pid, victim);
      assert.equal(await pool.call('add', { a: 2, b: 2 }), 4);
      assert.ok((pool.stats().workers[0]!.rssBytes ?? 0) >= 0);
    } finally {
      await pool.stop();
    }
  });
});
