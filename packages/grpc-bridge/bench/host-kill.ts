/**
 * Orphan exit: time from kill -9 of a host process (test/fixtures/host.ts: a registry and a pool of
 * 4 workers) until its last Python worker is gone from /proc. No baseline: the target is absolute.
 *
 * Run alone: `node packages/grpc-bridge/dist/bench/host-kill.js` (prints JSON).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isProcessAlive } from '@trellis/core';
import { BENCH_TOOLS } from './bare.js';
import { type BenchResult, median, pause, round3 } from './result.js';

const ROUNDS = 5;
const WORKERS = 4;
const HOST = fileURLToPath(new URL('../test/fixtures/host.js', import.meta.url));

async function once(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-bench-host-'));
  const host = spawn(process.execPath, [HOST, dir, String(WORKERS), BENCH_TOOLS, 'trellis-test-marker'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TMPDIR: dir },
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: host.stdout! }).once('line', resolve);
      host.once('exit', (c) => reject(new Error(`host exited with ${c}`)));
    });
    const { pids } = JSON.parse(line) as { pids: number[] };
    const t0 = performance.now();
    process.kill(host.pid!, 'SIGKILL');
    // Bounded: 10 s at most, polling /proc every millisecond or so.
    while (pids.some((p) => isProcessAlive(p))) {
      if (performance.now() - t0 > 10_000)
        throw new Error(
          `workers ${pids.filter((p) => isProcessAlive(p))} still alive 10 s after the host died`,
        );
      await new Promise((r) => setTimeout(r, 1));
    }
    return performance.now() - t0;
  } finally {
    if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchHostKill(): Promise<BenchResult[]> {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await pause(100);
    samples.push(await once());
  }
  const value = median(samples);
  return [
    {
      name: `kill -9 of the host until its last of ${WORKERS} Python workers is gone`,
      value: round3(value),
      unit: 'ms',
      target: 'value < 1000 ms',
      pass: Math.max(...samples) < 1000,
      samples: samples.map(round3),
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchHostKill(), null, 2));
