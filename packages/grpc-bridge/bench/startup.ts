/**
 * Start-up: time until a ToolPool of 8 workers is ready (every worker spawned through the registry,
 * readiness line read, channel connected, tools described) vs spawning 8 bare grpcio servers
 * concurrently and reading their READY lines. A second figure compares the pool with spawning the
 * same 8 `python -m trellis_worker` processes directly and reading their readiness lines: the
 * TypeScript side alone, without the Python SDK's heavier imports. Rounds rotate the order.
 *
 * Run alone: `node packages/grpc-bridge/dist/bench/startup.js` (prints JSON).
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Registry } from '@trellis/registry';
import { resolvePython, ToolPool } from '../src/index.js';
import { BENCH_TOOLS, socketDir, startBare } from './bare.js';
import { type BenchResult, median, pause, round3 } from './result.js';
import { targets } from './targets.js';

const ROUNDS = 7;
const WORKERS = 8;

async function poolReady(): Promise<number> {
  const t0 = performance.now();
  const pool = await ToolPool.start({ tools: BENCH_TOOLS, size: WORKERS, name: 'bench-startup' });
  const ms = performance.now() - t0;
  await pool.stop();
  return ms;
}

async function bareReady(): Promise<number> {
  const sockets = socketDir();
  const t0 = performance.now();
  const servers = await Promise.all(
    Array.from({ length: WORKERS }, (_, i) => startBare(join(sockets.dir, `b${i}.sock`))),
  );
  const ms = performance.now() - t0;
  await Promise.all(servers.map((s) => s.stop()));
  sockets.remove();
  return ms;
}

/** The same worker processes the pool runs, spawned directly, until their readiness lines. */
async function sdkReady(): Promise<number> {
  const sockets = socketDir();
  const python = resolvePython().command;
  const t0 = performance.now();
  const children = Array.from({ length: WORKERS }, (_, i) =>
    spawn(
      python,
      [
        '-m',
        'trellis_worker',
        '--tools',
        BENCH_TOOLS,
        '--listen',
        `unix:${join(sockets.dir, `s${i}.sock`)}`,
        '--trellis-run-id=trellis-test-marker-bench',
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        // Its own session, like the pool's workers (spawnProcess): with scheduler autogroups enabled,
        // a session is a scheduling unit, and the comparison must not hand either side more CPU.
        detached: true,
      },
    ),
  );
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          c.stdin!.on('error', () => {});
          c.once('exit', (code) => reject(new Error(`worker exited with ${code} before readiness`)));
          createInterface({ input: c.stdout! }).once('line', () => resolve());
        }),
    ),
  );
  const ms = performance.now() - t0;
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          c.removeAllListeners('exit');
          c.once('exit', () => done());
          c.kill('SIGKILL');
        }),
    ),
  );
  sockets.remove();
  return ms;
}

export async function benchStartup(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-registry-'));
  const registry = await Registry.open({ dir, logger: { info() {}, warn() {} } });
  try {
    const variants = { pool: poolReady, bare: bareReady, sdk: sdkReady } as const;
    for (const f of Object.values(variants)) await f();
    const samples: Record<keyof typeof variants, number[]> = { pool: [], bare: [], sdk: [] };
    const order = Object.keys(variants) as (keyof typeof variants)[];
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate which variant goes first: a noisy neighbour then hurts each in turn.
      for (let k = 0; k < order.length; k++) {
        const name = order[(r + k) % order.length]!;
        await pause(200);
        samples[name].push(await variants[name]());
      }
    }
    const result = (
      name: string,
      base: number[],
      target: (typeof targets)['startup' | 'startupSdk'],
    ): BenchResult => {
      const ratios = samples.pool.map((p, i) => p / base[i]!);
      const ratio = median(ratios);
      return {
        name,
        value: round3(median(samples.pool)),
        unit: 'ms',
        baseline: round3(median(base)),
        baselineName: target.baseline,
        ratio: round3(ratio),
        target,
        samples: ratios.map(round3),
      };
    };
    return [
      result(`time until ${WORKERS} workers are ready`, samples.bare, targets.startup),
      result(
        `time until ${WORKERS} workers are ready vs the same workers spawned directly (TS side alone)`,
        samples.sdk,
        targets.startupSdk,
      ),
    ];
  } finally {
    await registry.stopAll({ graceMs: 1000 });
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchStartup(), null, 2));
