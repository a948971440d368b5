/**
 * Orphan exit: time from kill -9 of a host process (test/fixtures/host.ts: a registry and a pool of
 * 4 workers) until its last Python worker is gone from /proc, against the floor of any such exit:
 * 4 bare Python processes (the same interpreter, started directly) killed by hand with
 * `process.kill(pid, 'SIGKILL')`, reaped by Node (waitpid), and polled out of /proc by the same loop.
 * The target is a ratio to that same-run baseline (<= 10), never an absolute time: on a loaded box
 * both sides slow alike. The figure in ms is printed beside it.
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
import { resolvePython } from '../src/index.js';
import { BENCH_TOOLS } from './bare.js';
import { type BenchResult, median, pause, round3 } from './result.js';
import { targets } from './targets.js';

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
    return await goneAfter(pids, t0, 'workers');
  } finally {
    if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits (bounded, 10 s) until none of `pids` is in /proc; returns the ms since t0. */
async function goneAfter(pids: number[], t0: number, what: string): Promise<number> {
  while (pids.some((p) => isProcessAlive(p))) {
    if (performance.now() - t0 > 10_000)
      throw new Error(`${what} ${pids.filter((p) => isProcessAlive(p))} still alive 10 s after the kill`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - t0;
}

/**
 * The baseline: `count` bare Python processes, SIGKILLed one by one by hand, until gone from /proc
 * (also the baseline of reliability.ts's descendant reap).
 */
export async function bareKillOnce(count = WORKERS): Promise<number> {
  const python = resolvePython().command;
  const children = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof spawn>>((resolve, reject) => {
          const c = spawn(
            python,
            [
              '-c',
              'import sys; sys.stdout.write("up\\n"); sys.stdout.flush(); sys.stdin.read()',
              'trellis-test-marker',
            ],
            {
              stdio: ['pipe', 'pipe', 'inherit'],
              detached: true,
            },
          );
          c.once('error', reject);
          c.stdin!.on('error', () => {});
          createInterface({ input: c.stdout! }).once('line', () => resolve(c));
        }),
    ),
  );
  const pids = children.map((c) => c.pid!);
  try {
    const t0 = performance.now();
    for (const p of pids) process.kill(p, 'SIGKILL');
    return await goneAfter(pids, t0, 'bare processes');
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

export async function benchHostKill(): Promise<BenchResult[]> {
  const samples: number[] = [];
  const bases: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await pause(100);
    // Alternating which goes first, so drift in the box's load hits both alike.
    let a: number;
    let b: number;
    if (r % 2 === 0) {
      a = await once();
      b = await bareKillOnce();
    } else {
      b = await bareKillOnce();
      a = await once();
    }
    samples.push(a);
    bases.push(b);
    ratios.push(a / b);
  }
  const ratio = median(ratios);
  return [
    {
      name: `kill -9 of the host until its last of ${WORKERS} Python workers is gone`,
      value: round3(median(samples)),
      unit: 'ms',
      baseline: round3(median(bases)),
      baselineName: targets.hostKill.baseline,
      ratio: round3(ratio),
      target: targets.hostKill,
      samples: ratios.map(round3),
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchHostKill(), null, 2));
