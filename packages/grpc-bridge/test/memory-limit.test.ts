/**
 * Issue 13, defect 7: `maxRssMb` was advisory (read at each 2 s heartbeat): a tool leaking 100 MiB
 * per call took a worker with maxRssMb 300 to 1,635 MiB. Now the worker caps its own memory
 * (RLIMIT_DATA) and the host polls RSS every 100 ms: the call that crosses the limit fails with
 * ERR_WORKER_MEMORY_LIMIT naming the limit, the worker is replaced, and its RSS never went above
 * the limit + 10%.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ToolPool, type WorkerMemoryLimitError } from '../src/index.js';
import { openTestRun, type TestRun, waitForReady } from './helpers.js';

const RELIABILITY_TOOLS = fileURLToPath(new URL('../../test/fixtures/reliability_tools.py', import.meta.url));
const MiB = 2 ** 20;
const LIMIT_MB = 300;

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

/** The kernel's own high-water mark of the process's RSS (VmHWM), in bytes. */
function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

test('a leaking tool: ERR_WORKER_MEMORY_LIMIT naming the limit, worker replaced, RSS within limit + 10%', async () => {
  const pool = await ToolPool.start({
    name: 'leaky',
    tools: [RELIABILITY_TOOLS],
    size: 1,
    maxRssMb: LIMIT_MB,
  });
  try {
    const victim = pool.stats().workers[0]!.pid;
    let peak = 0;
    // The worker's own peak as the kernel records it, read until it is gone.
    const sampler = setInterval(() => {
      peak = Math.max(peak, peakRss(victim) ?? 0);
    }, 5);
    let failure: WorkerMemoryLimitError | undefined;
    let ok = 0;
    try {
      for (let i = 0; i < 10 && failure === undefined; i++) {
        try {
          await pool.call('leak', { mib: 150 }, { timeoutMs: 30_000 });
          ok++;
        } catch (e) {
          failure = e as WorkerMemoryLimitError;
        }
      }
    } finally {
      clearInterval(sampler);
    }
    assert.ok(failure, `no call failed after ${ok} leaks of 150 MiB`);
    assert.equal(failure.code, 'ERR_WORKER_MEMORY_LIMIT', failure.message);
    assert.match(failure.message, /maxRssMb = 300 MiB/);
    assert.match(failure.message, /while running tool "leak"/);
    assert.equal(failure.pid, victim);
    assert.ok(ok >= 1, 'the first 150 MiB fit under the limit');
    assert.ok(peak > 0);
    assert.ok(
      peak <= LIMIT_MB * 1.1 * MiB,
      `peak RSS ${(peak / MiB).toFixed(0)} MiB over ${LIMIT_MB} MiB + 10%`,
    );
    assert.ok(pool.stats().peakWorkerRssBytes <= LIMIT_MB * 1.1 * MiB);
    // Replaced: a fresh worker serves.
    await waitForReady(pool, 1);
    const fresh = (await pool.call('whoami', {})) as number;
    assert.notEqual(fresh, victim);
  } finally {
    await pool.stop();
  }
});
