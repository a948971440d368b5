/**
 * Python workers are heartbeat-monitored by a real @trellis/health monitor: each worker actor is
 * registered when its process is ready, its answered heartbeats keep it `active`, and a worker that
 * is killed and restarted is the same key's next incarnation.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { awaitExit, Exit, exit, start } from '@trellis/core';
import { findHealthMonitor, startHealthMonitor } from '@trellis/health';
import { ToolPool } from '../src/index.js';
import { markedProcesses, OTHER_TOOLS, openTestRun, type TestRun, waitFor } from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

test('worker heartbeats feed the health monitor; a restarted worker is the next incarnation', async () => {
  const monitorPid = await startHealthMonitor({ name: 'bridge-health', persist: false, scanIntervalMs: 50 });
  const monitor = findHealthMonitor('bridge-health');
  assert.ok(monitor, 'health monitor running');
  const pool = new ToolPool({
    tools: OTHER_TOOLS,
    size: 2,
    name: 'hb',
    heartbeatIntervalMs: 150,
    healthMonitor: monitor,
  });
  const app = await start(
    { flags: { strategy: 'one_for_one', intensity: 5, periodMs: 10_000 }, children: [pool.childSpec()] },
    { handleSignals: false, exitProcess: false },
  );
  try {
    const python = () => monitor.list().filter((r) => r.kind === 'python');
    await waitFor(
      () => python().length === 2 && python().every((r) => r.state === 'active' && r.beats >= 2),
      'both workers active with heartbeats',
    );
    assert.deepEqual(
      python()
        .map((r) => r.key)
        .sort(),
      ['hb/worker-0', 'hb/worker-1'],
    );

    const victim = pool.stats().workers.find((w) => w.slot === 0)!;
    const before = python().find((r) => r.key === 'hb/worker-0')!;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(() => {
      const r = python().find((x) => x.key === 'hb/worker-0');
      return r !== undefined && r.pid !== before.pid && r.restarts >= 1 && r.state === 'active';
    }, 'the restarted worker to be the next incarnation of the same key, active again');
    assert.equal(pool.stats().workers.length, 2);
  } finally {
    await app.stop();
    const down = awaitExit(monitorPid);
    exit(monitorPid, Exit.shutdown());
    await down;
  }
  assert.deepEqual(markedProcesses(run.registry.runId), []);
});
