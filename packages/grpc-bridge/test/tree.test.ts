/**
 * A ToolPool as a child of an application tree: started with the tree, restarted by its parent
 * with the same handle working afterwards, and stopped with the tree leaving no Python process.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exit, start, whichChildren } from '@trellis/core';
import { ToolPool } from '../src/index.js';
import {
  ALL_TOOLS,
  alive,
  markedProcesses,
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

test('a pool in a supervision tree: calls, restart by its parent, shutdown with the tree', async () => {
  const pool = new ToolPool({ tools: ALL_TOOLS, size: 2, name: 'tree-pool' });
  const app = await start(
    { flags: { strategy: 'one_for_one', intensity: 3, periodMs: 5000 }, children: [pool.childSpec()] },
    { handleSignals: false, exitProcess: false },
  );
  try {
    assert.equal(await pool.call('add', { a: 2, b: 3 }), 5);
    const [child] = await whichChildren(app.pid);
    assert.equal(child?.id, 'tree-pool');
    assert.equal(child?.type, 'supervisor');
    assert.equal(child?.pid, pool.pid);
    await rejectsWith(pool.stop(), 'ERR_POOL_CLOSED');

    // The parent restarts a pool whose supervisor died; the same handle keeps working.
    const oldSup = pool.pid!;
    const oldWorkers = pool.stats().workers.map((w) => w.pid);
    exit(oldSup, 'kill');
    await waitFor(() => pool.running && pool.pid !== oldSup, 'the parent to restart the pool');
    await waitForReady(pool, 2);
    assert.equal(await pool.call('add', { a: 1, b: 1 }), 2);
    await waitFor(() => oldWorkers.every((p) => !alive(p)), 'the old workers to drain and exit');
  } finally {
    const reason = await app.stop();
    assert.equal(reason.type, 'shutdown');
  }
  assert.equal(pool.running, false);
  await rejectsWith(pool.call('add', { a: 1, b: 1 }), 'ERR_POOL_CLOSED');
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});
