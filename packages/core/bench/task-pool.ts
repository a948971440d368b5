/**
 * Task-pool benchmarks: throughput of small CPU tasks through a supervised TaskPool (runTask) vs raw
 * piscina, with the same task file, the same thread count and piscina's same options, in the same
 * run. Rounds alternate which of the two goes first (a 2-core box is noisy). `value` and `baseline`
 * are the median rates; `ratio` is the median of the per-round ratios (each round's pair ran back to
 * back), which is what the target is checked against.
 *
 *   task_pool.throughput          runTask(pool, task)                vs piscina.run(task)
 *   task_pool.throughput_timeout  runTask(pool, task, { timeoutMs }) vs piscina.run with an
 *                                 AbortController + setTimeout per task (what a user would write)
 *
 * Run alone: `node packages/core/dist/bench/task-pool.js` (prints JSON).
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { awaitExit, exit, spawn } from '../src/actor.js';
import { systemClock } from '../src/clock.js';
import { currentNode } from '../src/node.js';
import type { Pid } from '../src/pid.js';
import { runTask, taskPoolChild } from '../src/task-pool/task-pool.js';
import type { Target } from './target.js';
import { targets } from './targets.js';

export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: number;
  readonly baselineName: string;
  /** value / baseline. */
  readonly ratio: number;
  readonly target: Target;
}

const TASK_FILE = new URL('../test/fixtures/task-bench.js', import.meta.url);
const THREADS = 2;
/** Tasks kept in flight by the producer: enough to keep both threads and their queues busy. */
const WINDOW = 64;
const TIMEOUT_MS = 60_000;

type Submit = (i: number) => Promise<unknown>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Runs n tasks with at most WINDOW in flight; returns tasks per second. */
async function throughput(n: number, submit: Submit): Promise<number> {
  let next = 0;
  let checksum = 0;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      checksum ^= (await submit(i)) as number;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const s = (performance.now() - t0) / 1000;
  if (checksum === 0.5) throw new Error('unreachable: keeps the results alive');
  return n / s;
}

const task = (i: number) => ({ seed: i, n: 40 });

async function compare(
  name: string,
  pool: Submit,
  raw: Submit,
  n: number,
  rounds: number,
): Promise<BenchResult> {
  await throughput(n, pool);
  await throughput(n, raw);
  const p: number[] = [];
  const r: number[] = [];
  for (let k = 0; k < rounds; k++) {
    if (k % 2 === 0) {
      p.push(await throughput(n, pool));
      r.push(await throughput(n, raw));
    } else {
      r.push(await throughput(n, raw));
      p.push(await throughput(n, pool));
    }
  }
  const value = median(p);
  const baseline = median(r);
  // Each round's pair ran back to back, so its ratio is immune to the box slowing down or speeding
  // up between rounds (other work on a shared 2-core machine); the median of those is the figure.
  const ratio = median(p.map((x, k) => x / r[k]!));
  return {
    name,
    value: Math.round(value),
    unit: 'tasks/s',
    baseline: Math.round(baseline),
    baselineName: targets.taskPool.baseline,
    ratio: round3(ratio),
    target: targets.taskPool,
  };
}

export async function benchTaskPool(n = 8_000, rounds = 15): Promise<BenchResult[]> {
  const parent: Pid = spawn(async (ctx) => {
    ctx.trapExit(true);
    await ctx.receive((m) => m === 'stop');
  });
  const start = taskPoolChild({
    filename: TASK_FILE,
    name: 'bench-task-pool',
    minThreads: THREADS,
    maxThreads: THREADS,
  });
  const poolPid = (await start({ parent, node: currentNode(), clock: systemClock, id: 'bench' })) as Pid;
  // Raw piscina exactly as the pool configures it, minus Trellis: same file, threads, idleTimeout.
  const raw = new Piscina({
    filename: fileURLToPath(TASK_FILE),
    minThreads: THREADS,
    maxThreads: THREADS,
    idleTimeout: 0,
  });
  try {
    const plain = await compare(
      'task_pool.throughput',
      (i) => runTask('bench-task-pool', task(i)),
      (i) => raw.run(task(i)),
      n,
      rounds,
    );
    const withTimeout = await compare(
      'task_pool.throughput_timeout',
      (i) => runTask('bench-task-pool', task(i), { timeoutMs: TIMEOUT_MS }),
      (i) => {
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), TIMEOUT_MS);
        return raw.run(task(i), { signal: ac.signal }).finally(() => clearTimeout(timer));
      },
      n,
      rounds,
    );
    return [plain, withTimeout];
  } finally {
    const down = awaitExit(poolPid);
    exit(poolPid, 'kill');
    await down;
    exit(parent, 'kill');
    await raw.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await benchTaskPool();
  process.stdout.write(
    `${JSON.stringify({ scope: 'core.task-pool', node: process.version, results }, null, 2)}\n`,
  );
}
