/**
 * Sessions and affinity with real Python workers: a session sticks to the worker holding its state;
 * hint falls back to any worker, strict-queue waits for its worker, strict-fail-fast refuses with
 * ERR_WORKER_BUSY; a strict session whose worker died fails with ERR_SESSION_WORKER_GONE (never
 * rerouted); endSession and TTL expiry release the Python state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ToolPool } from '../src/index.js';
import { nextEvent, openTestRun, PARITY_TOOLS, rejectsWith, type TestRun, waitForReady } from './helpers.js';

interface Recalled {
  pid: number;
  value: unknown;
}

let run: TestRun;
let pool: ToolPool;

before(async () => {
  run = await openTestRun();
  // One call per worker at a time, so "busy" is unambiguous.
  pool = await ToolPool.start({ tools: PARITY_TOOLS, size: 2, concurrency: 1, name: 'sessions' });
});

after(async () => {
  await pool?.stop();
  await run.close();
});

/** A session bound to a worker, holding state key "k". Returns its id and worker PID. */
async function boundSession(value: unknown): Promise<{ id: string; pid: number }> {
  const id = pool.createSession();
  const r = (await pool.call('remember', { key: 'k', value }, { sessionId: id })) as { pid: number };
  assert.equal(pool.sessionWorker(id), r.pid);
  return { id, pid: r.pid };
}

/** Resolves when a `hold` call has reached its worker (subscribe before making the call). */
function holdStarted(): Promise<unknown> {
  return nextEvent(pool, (e) => e.type === 'call_started' && e.tool === 'hold');
}

describe('affinity', () => {
  test('calls of a session go to the worker that holds its state', async () => {
    const s = await boundSession('v1');
    for (let i = 0; i < 6; i++) {
      const r = (await pool.call('recall', { key: 'k' }, { sessionId: s.id })) as Recalled;
      assert.deepEqual(r, { pid: s.pid, value: 'v1' });
    }
    assert.equal(await pool.endSession(s.id), true);
  });

  test('hint: with its worker busy, the call runs on another worker at once', async () => {
    const s = await boundSession('v2');
    const started = holdStarted();
    const busy = pool.call('hold', { ms: 600 }, { sessionId: s.id, affinity: 'strict-queue' });
    await started;
    const r = (await pool.call('recall', { key: 'k' }, { sessionId: s.id, affinity: 'hint' })) as Recalled;
    assert.notEqual(r.pid, s.pid);
    assert.equal(r.value, null, 'the other worker has no state for the session');
    assert.equal(((await busy) as { pid: number }).pid, s.pid);
    await pool.endSession(s.id);
  });

  test('strict-queue: with its worker busy, the call waits for that worker', async () => {
    const s = await boundSession('v3');
    const order: string[] = [];
    const started = holdStarted();
    const busy = pool.call('hold', { ms: 400 }, { sessionId: s.id }).then(() => order.push('hold'));
    await started;
    const r = (await pool
      .call('recall', { key: 'k' }, { sessionId: s.id, affinity: 'strict-queue' })
      .then((x) => {
        order.push('recall');
        return x;
      })) as Recalled;
    await busy;
    assert.deepEqual(r, { pid: s.pid, value: 'v3' });
    assert.deepEqual(order, ['hold', 'recall']);
    await pool.endSession(s.id);
  });

  test('strict-fail-fast: with its worker busy, the call fails at once with ERR_WORKER_BUSY', async () => {
    const s = await boundSession('v4');
    const started = holdStarted();
    const busy = pool.call('hold', { ms: 400 }, { sessionId: s.id, affinity: 'strict-queue' });
    await started;
    const err = await rejectsWith(
      pool.call('recall', { key: 'k' }, { sessionId: s.id, affinity: 'strict-fail-fast' }),
      'ERR_WORKER_BUSY',
    );
    assert.match(err.message, new RegExp(`PID ${s.pid}`));
    await busy;
    // Free again: the same call now succeeds on the session's worker.
    const r = (await pool.call(
      'recall',
      { key: 'k' },
      { sessionId: s.id, affinity: 'strict-fail-fast' },
    )) as Recalled;
    assert.deepEqual(r, { pid: s.pid, value: 'v4' });
    await pool.endSession(s.id);
  });

  test('a session created with an affinity uses it for its calls', async () => {
    const id = pool.createSession({ affinity: 'strict-fail-fast' });
    const r = (await pool.call('remember', { key: 'k', value: 1 }, { sessionId: id })) as { pid: number };
    const started = holdStarted();
    const busy = pool.call('hold', { ms: 400 }, { sessionId: id, affinity: 'strict-queue' });
    await started;
    await rejectsWith(pool.call('recall', { key: 'k' }, { sessionId: id }), 'ERR_WORKER_BUSY');
    assert.equal(((await busy) as { pid: number }).pid, r.pid);
    await pool.endSession(id);
  });
});

describe('session end and expiry', () => {
  test('endSession releases the Python state on its worker', async () => {
    const s = await boundSession('gone soon');
    assert.equal(await pool.endSession(s.id), true);
    assert.equal(await pool.endSession(s.id), false, 'ending it twice finds nothing');
    // The same id again is a new session; the old worker no longer has the state.
    const r = (await pool.call('recall', { key: 'k' }, { sessionId: s.id })) as Recalled;
    assert.equal(r.value, null);
    await pool.endSession(s.id);
  });

  test('a session idle for its ttlMs ends, and its worker drops the state', async () => {
    const single = await ToolPool.start({ tools: PARITY_TOOLS, size: 1, name: 'sessions-ttl' });
    try {
      const id = single.createSession({ ttlMs: 200 });
      await single.call('remember', { key: 'k', value: 'short-lived' }, { sessionId: id });
      const ended = await nextEvent(single, (e) => e.type === 'session_ended' && e.sessionId === id);
      assert.equal((ended as { reason: string }).reason, 'expired');
      assert.equal((ended as { released: boolean }).released, true);
      // One worker: had the state not been dropped there, this call would see it.
      const r = (await single.call('recall', { key: 'k' }, { sessionId: id })) as Recalled;
      assert.equal(r.value, null);
    } finally {
      await single.stop();
    }
  });
});

describe('a session whose worker died', () => {
  test('strict modes fail with ERR_SESSION_WORKER_GONE saying the state was lost; hint runs elsewhere', async () => {
    const s = await boundSession('lost');
    const exited = nextEvent(pool, (e) => e.type === 'worker_exited' && e.pid === s.pid);
    process.kill(s.pid, 'SIGKILL');
    await exited;
    for (const affinity of ['strict-queue', 'strict-fail-fast'] as const) {
      const err = await rejectsWith(
        pool.call('recall', { key: 'k' }, { sessionId: s.id, affinity }),
        'ERR_SESSION_WORKER_GONE',
      );
      assert.match(err.message, /state \(ctx\.session\) was lost/);
      assert.match(err.message, /SIGKILL/);
    }
    assert.equal(pool.sessionWorker(s.id), undefined);
    await waitForReady(pool, 2);
    const r = (await pool.call('recall', { key: 'k' }, { sessionId: s.id, affinity: 'hint' })) as Recalled;
    assert.notEqual(r.pid, s.pid);
    assert.equal(r.value, null);
    // Hint rebinds the session to the worker that ran it.
    assert.equal(pool.sessionWorker(s.id), r.pid);
    await pool.endSession(s.id);
  });
});
