/**
 * A sync tool that ignores cancellation keeps its slot in Python after the host gave up on the call.
 * Found by the chaos suite: the worker kept answering heartbeats while every later call queued
 * behind the stuck tool until its deadline. The heartbeat now reports tools still running, and a
 * worker that runs more than the host has in flight for `heartbeatMisses` beats is recycled.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ToolPool } from '../src/index.js';
import { markedProcesses, openTestRun, rejectsWith, SDK_TOOLS, type TestRun, waitFor } from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

test('a worker wedged by a tool that ignores cancellation is recycled and serves again', async () => {
  const pool = await ToolPool.start({
    tools: SDK_TOOLS,
    size: 1,
    concurrency: 1,
    heartbeatIntervalMs: 150,
    heartbeatMisses: 3,
    graceMs: 200,
  });
  try {
    const stuckPid = pool.stats().workers[0]!.pid;
    await rejectsWith(pool.call('sleep', { seconds: 3600 }, { timeoutMs: 300 }), 'ERR_DEADLINE_EXCEEDED');
    await waitFor(() => pool.stats().recycles >= 1, 'the wedged worker to be recycled', 10_000);
    await waitFor(
      () => pool.stats().workers.length === 1 && pool.stats().workers[0]!.pid !== stuckPid,
      'a fresh worker in its place',
      10_000,
    );
    assert.equal(await pool.call('echo', { value: 'after' }, { timeoutMs: 5000 }), 'after');
    assert.equal(pool.stats().restarts, 0, 'a recycle, not a crash restart');
  } finally {
    await pool.stop();
  }
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});
