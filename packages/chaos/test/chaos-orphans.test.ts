/**
 * The orphan check finds a process planted on purpose (a real child process carrying a run marker,
 * and one carrying only TRELLIS_RUN_ID in its environment), both by marker and by the descendant
 * tree, and the clean-up kills exactly those and leaves nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isProcessAlive } from '@trellis/core';
import { DescendantTracker, findOrphans, killProcesses, processesOfRuns } from '../src/orphans.js';

function plant(runId: string, how: 'argv' | 'env'): number {
  const args = ['-e', 'setTimeout(() => {}, 60000)'];
  if (how === 'argv') args.push('--', `--trellis-run-id=${runId}`);
  const child = spawn(process.execPath, args, {
    stdio: 'ignore',
    env: how === 'env' ? { ...process.env, TRELLIS_RUN_ID: runId } : { ...process.env, TRELLIS_RUN_ID: '' },
  });
  child.unref();
  return child.pid!;
}

/** Polls (bounded) until /proc shows the process carrying the run id (after its exec). */
async function untilVisible(pid: number, runId: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (processesOfRuns([runId]).some((p) => p.pid === pid)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`planted process ${pid} never showed up with run id ${runId}`);
}

describe('orphan check', () => {
  test('finds a planted orphan by marker, by environment and by descendant tree, then cleans it up', async () => {
    const runId = `chaos-test-${randomBytes(4).toString('hex')}`;
    const tracker = new DescendantTracker(process.pid);
    const byArgv = plant(runId, 'argv');
    const byEnv = plant(runId, 'env');
    try {
      await untilVisible(byArgv, runId);
      await untilVisible(byEnv, runId);
      tracker.sample();
      const found = findOrphans({ runIds: [runId], tracker });
      const marker = found.byMarker.find((p) => p.pid === byArgv);
      const env = found.byMarker.find((p) => p.pid === byEnv);
      assert.equal(marker?.how, 'marker');
      assert.equal(env?.how, 'env');
      assert.deepEqual(
        found.byDescendant.map((p) => p.pid).sort(),
        [byArgv, byEnv].sort((a, b) => a - b),
        'both were seen below this process',
      );
      assert.equal(found.total, 2, 'each orphan counted once');
      assert.equal(findOrphans({ runIds: ['chaos-test-other'] }).total, 0, 'another run id finds nothing');
      const left = await killProcesses([...found.byMarker, ...found.byDescendant]);
      assert.deepEqual(left, []);
    } finally {
      for (const pid of [byArgv, byEnv]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    assert.equal(isProcessAlive(byArgv), false);
    assert.equal(isProcessAlive(byEnv), false);
    assert.equal(findOrphans({ runIds: [runId], tracker }).total, 0);
  });
});
