/**
 * Stopping a pool: in-flight calls drain (SIGTERM, the worker finishes them), calls still running
 * when the grace period ends are cut with a clear error, queued and later calls fail with
 * ERR_POOL_CLOSED, and no Python process is left.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ToolPool, type WorkerExitedError } from '../src/index.js';
import {
  ALL_TOOLS,
  alive,
  markedProcesses,
  openTestRun,
  rejectsWith,
  type TestRun,
  waitFor,
  waitForFlag,
} from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

test('stop drains in-flight calls, refuses queued and new ones, and leaves no process', async () => {
  const pool = await ToolPool.start({ tools: ALL_TOOLS, size: 2, maxConcurrentPerWorker: 1, name: 'drain' });
  const pids = pool.stats().workers.map((w) => w.pid);
  const a = pool.call('slow_add', { a: 1, b: 2, ms: 400 });
  const b = pool.call('slow_add', { a: 3, b: 4, ms: 400 });
  const queued = pool.call('slow_add', { a: 5, b: 6, ms: 0 });
  await waitFor(
    () => pool.stats().queueDepth === 1 && pool.stats().inFlight === 2,
    'two running calls and one queued',
  );
  const stopped = pool.stop();
  await rejectsWith(queued, 'ERR_POOL_CLOSED');
  // The running calls finish during the drain: their results arrive although the pool is stopping.
  assert.deepEqual(await Promise.all([a, b]), [3, 7]);
  const reason = await stopped;
  assert.equal(reason?.type, 'shutdown');
  assert.ok(pids.every((p) => !alive(p)));
  await rejectsWith(pool.call('add', { a: 1, b: 1 }), 'ERR_POOL_CLOSED');
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});

test('a call still running when the drain grace ends is cut, and an async tool sees the cancellation', async () => {
  const pool = await ToolPool.start({ tools: ALL_TOOLS, size: 1, graceMs: 300, name: 'grace' });
  const flag = run.flag();
  const call = pool.call('await_cancel', { flag, seconds: 30 }, { timeoutMs: 60_000 });
  await waitForFlag(flag, 'started');
  const outcome = rejectsWith<WorkerExitedError>(call, 'ERR_WORKER_EXITED');
  const t0 = Date.now();
  await pool.stop();
  assert.ok(Date.now() - t0 < 10_000, "stop took about the grace period, not the tool's 30 s");
  const err = await outcome;
  assert.match(err.message, /drain grace/);
  await waitForFlag(flag, 'cancelled');
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});
