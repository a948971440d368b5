/**
 * Several named pools in one tree, each with its own tools module, size and limits; the thread
 * profile (one Python process running several calls at once); heartbeats feeding a health monitor.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Pid, start } from '@trellis/core';
import { ToolPool } from '../src/index.js';
import {
  markedProcesses,
  OTHER_TOOLS,
  openTestRun,
  PARITY_TOOLS,
  rejectsWith,
  type TestRun,
  waitFor,
} from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

test('two pools with different tools, sizes and limits in one tree', async () => {
  const a = new ToolPool({ tools: PARITY_TOOLS, size: 2, name: 'pool-a', affinity: 'strict-queue' });
  const b = new ToolPool({ tools: OTHER_TOOLS, size: 1, name: 'pool-b', maxCalls: 3, concurrency: 1 });
  const app = await start(
    {
      flags: { strategy: 'one_for_one', intensity: 3, periodMs: 5000 },
      children: [a.childSpec(), b.childSpec()],
    },
    { handleSignals: false, exitProcess: false },
  );
  try {
    assert.deepEqual((await b.call('shout', { text: 'hi' })) as { text: string }, {
      text: 'HI',
      pid: b.stats().workers[0]!.pid,
    });
    assert.equal(typeof (await a.call('pid')), 'number');
    await rejectsWith(a.call('shout', { text: 'x' }), 'ERR_TOOL_NOT_FOUND');
    await rejectsWith(b.call('pid'), 'ERR_TOOL_NOT_FOUND');
    const aPids = a.stats().workers.map((w) => w.pid);
    const bPids = b.stats().workers.map((w) => w.pid);
    assert.equal(aPids.length, 2);
    assert.equal(bPids.length, 1);
    assert.ok(!aPids.some((p) => bPids.includes(p)));
    for (let i = 0; i < 6; i++) await b.call('shout', { text: `n${i}` });
    await waitFor(() => b.stats().recycles >= 1, 'pool-b to recycle (its own maxCalls)');
    assert.equal(a.stats().recycles, 0);
    assert.deepEqual(b.stats().errorsByCode, { ERR_TOOL_NOT_FOUND: 1 });
  } finally {
    await app.stop();
  }
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});

test('thread profile: one Python process runs calls concurrently on its threads', async () => {
  const pool = await ToolPool.start({ tools: PARITY_TOOLS, size: 1, concurrency: 3, name: 'threads' });
  try {
    type Held = { pid: number; start: number; end: number };
    const rs = (await Promise.all([1, 2, 3].map(() => pool.call('hold', { ms: 400 })))) as Held[];
    assert.equal(new Set(rs.map((r) => r.pid)).size, 1, 'all three ran in the one process');
    // Overlap: every call started before any of them ended.
    const lastStart = Math.max(...rs.map((r) => r.start));
    const firstEnd = Math.min(...rs.map((r) => r.end));
    assert.ok(lastStart < firstEnd, `calls ran one after another: ${JSON.stringify(rs)}`);
  } finally {
    await pool.stop();
  }
  const serial = await ToolPool.start({ tools: PARITY_TOOLS, size: 1, concurrency: 1, name: 'one-thread' });
  try {
    type Held = { start: number; end: number };
    const rs = (await Promise.all([1, 2].map(() => serial.call('hold', { ms: 200 })))) as Held[];
    rs.sort((x, y) => x.start - y.start);
    assert.ok(rs[1]!.start >= rs[0]!.end - 1, 'with concurrency 1 the calls do not overlap');
  } finally {
    await serial.stop();
  }
});

test('heartbeats of the Python workers reach the health monitor', async () => {
  const beats: Pid[] = [];
  const pool = await ToolPool.start({
    tools: PARITY_TOOLS,
    size: 2,
    heartbeatIntervalMs: 30,
    name: 'beats',
    healthMonitor: { beat: (pid) => beats.push(pid) },
  });
  try {
    await waitFor(() => new Set(beats).size === 2, 'beats from both worker actors');
  } finally {
    await pool.stop();
  }
});
