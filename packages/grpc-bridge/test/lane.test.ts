/**
 * The call lane (src/lane/): every pool uses it by default, with the gRPC unary path as the
 * fallback when it breaks; a call on a lane that breaks is neither lost nor run twice.
 * (Every other bridge test runs over the lane too, since it is the default.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ToolPool } from '../src/index.js';
import { FrameKind, protoFrameKinds } from '../src/lane/frames.js';
import { openTestRun, rejectsWith, type TestRun, waitFor } from './helpers.js';

const LANE_TOOLS = fileURLToPath(new URL('../../test/fixtures/lane_tools.py', import.meta.url));

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

const runs = (flag: string): number => {
  try {
    return readFileSync(flag, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

test('the frame kinds are the LaneFrameKind values of lane.proto', () => {
  const proto = protoFrameKinds();
  for (const [name, value] of Object.entries(FrameKind)) assert.equal(proto[`LANE_${name}`], value, name);
  assert.equal(Object.keys(proto).length, Object.keys(FrameKind).length + 1); // + UNSPECIFIED
});

describe('a pool', () => {
  test('calls over each worker lane by default, and over gRPC unary with lane: false', async () => {
    const pool = await ToolPool.start({ tools: LANE_TOOLS, size: 2, name: 'lane-default' });
    const plain = await ToolPool.start({ tools: LANE_TOOLS, size: 1, name: 'lane-off', lane: false });
    try {
      const flag = run.flag();
      await Promise.all(Array.from({ length: 8 }, () => pool.call('counted_wait', { flag, ms: 1 })));
      const ws = pool.stats().workers;
      assert.ok(
        ws.every((w) => w.lane),
        'every worker has its lane',
      );
      assert.equal(
        ws.reduce((n, w) => n + w.laneCalls, 0),
        8,
      );
      assert.equal(runs(flag), 8);
      await plain.call('counted_wait', { flag: run.flag(), ms: 1 });
      assert.deepEqual(
        plain.stats().workers.map((w) => [w.lane, w.laneCalls]),
        [[false, 0]],
      );
    } finally {
      await Promise.all([pool.stop(), plain.stop()]);
    }
  });
});

test('heartbeats go over the lane while it is up, over the Heartbeat RPC once it broke', async () => {
  const pool = await ToolPool.start({
    tools: LANE_TOOLS,
    size: 1,
    name: 'lane-beats',
    heartbeatIntervalMs: 100,
  });
  try {
    const w = () => pool.stats().workers[0]!;
    const pid = w().pid;
    await waitFor(() => w().laneHeartbeats >= 2, 'two heartbeats answered over the lane');
    assert.ok(w().rssBytes !== undefined && w().rssBytes! > 0, 'the answer carries the worker stats');
    assert.equal(await pool.call('break_lanes', { after_ms: 10 }), 1);
    await waitFor(() => !w().lane, 'the lane seen closed');
    const beats = w().laneHeartbeats;
    const since = w().lastHeartbeatAt ?? 0;
    // Answered heartbeats keep coming (over gRPC now) and the worker is not counted as missing them.
    await waitFor(() => (w().lastHeartbeatAt ?? 0) >= since + 250, 'heartbeats answered after the break');
    assert.equal(w().laneHeartbeats, beats, 'none over the closed lane');
    assert.equal(w().pid, pid, 'the same worker, never killed for misses');
  } finally {
    await pool.stop();
  }
});

describe('a lane that breaks while its worker lives', () => {
  let pool: ToolPool;
  before(async () => {
    pool = await ToolPool.start({ tools: LANE_TOOLS, size: 1, name: 'lane-break', exitAttributionMs: 100 });
  });
  after(async () => {
    await pool.stop();
  });

  test('a call in flight is not run twice: it fails ERR_WORKER_UNAVAILABLE; later calls go over gRPC', async () => {
    const flag = run.flag();
    const inFlight = pool.call('counted_wait', { flag, ms: 2000, break_lane_ms: 30 });
    await rejectsWith(inFlight, 'ERR_WORKER_UNAVAILABLE');
    assert.equal(pool.stats().workers[0]?.lane, false, 'the lane is seen closed');
    assert.equal(runs(flag), 1, 'the tool ran once');
    const next = run.flag();
    assert.equal(await pool.call('counted_wait', { flag: next, ms: 1 }), 'done');
    assert.equal(runs(next), 1);
    assert.equal(pool.stats().workers[0]?.laneCalls, 1, 'that call went over gRPC, not the lane');
  });
});

test('an idempotent call in flight when its lane breaks is retried once, on another worker', async () => {
  const pool = await ToolPool.start({
    tools: LANE_TOOLS,
    size: 2,
    name: 'lane-retry',
    exitAttributionMs: 100,
  });
  try {
    const flag = run.flag();
    const result = await pool.call('counted_wait_idempotent', { flag, ms: 1000, break_lane_ms: 30 });
    assert.equal(result, 'done');
    assert.equal(runs(flag), 2, 'run once on the lane (cancelled when it broke), once more after');
    assert.equal(pool.stats().calls.retried, 1);
  } finally {
    await pool.stop();
  }
});
