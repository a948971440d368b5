/**
 * Throughput of the gRPC unary path (`lane: false`; the call lane has its own suite, lane.ts) with 2
 * workers and 64 calls in flight: a ToolPool (size 2, 32 calls per worker) vs
 * raw grpc-js clients spreading the same calls over 2 bare grpcio servers, in the same run. A second
 * figure compares the pool with raw clients calling the pool's own two trellis_worker processes:
 * the TypeScript side alone.
 *
 * Run alone: `node packages/grpc-bridge/dist/bench/throughput.js` (prints JSON).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ToolPool } from '../src/index.js';
import { BENCH_TOOLS, rawCall, rawClient, socketDir, startBare } from './bare.js';
import { type BenchResult, median, pause, round3 } from './result.js';
import { targets } from './targets.js';

// 9 rounds, not 5: under load the per-round ratios spread over 0.47 to 1.40 (2026-12-07), and a
// median of 5 such ratios is one unlucky round away from "no".
const ROUNDS = 9;
const CALLS = 6000;
const IN_FLIGHT = 64;
const ARGS = { value: 'x'.repeat(64) };

/** Calls per second with IN_FLIGHT callers sharing n calls. */
async function rate(n: number, once: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await once(next++);
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

async function compare(
  name: string,
  fn: (i: number) => Promise<unknown>,
  base: (i: number) => Promise<unknown>,
  target: (typeof targets)['throughput' | 'throughputSameWorkers'],
): Promise<BenchResult> {
  const values: number[] = [];
  const bases: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await pause();
    let a: number;
    let b: number;
    if (r % 2 === 0) {
      a = await rate(CALLS, fn);
      b = await rate(CALLS, base);
    } else {
      b = await rate(CALLS, base);
      a = await rate(CALLS, fn);
    }
    values.push(a);
    bases.push(b);
    ratios.push(a / b);
  }
  const ratio = median(ratios);
  return {
    name,
    value: Math.round(median(values)),
    unit: 'calls/s',
    baseline: Math.round(median(bases)),
    baselineName: target.baseline,
    ratio: round3(ratio),
    target,
    samples: ratios.map(round3),
  };
}

export async function benchThroughput(): Promise<BenchResult[]> {
  const sockets = socketDir();
  const bares = await Promise.all([0, 1].map((i) => startBare(join(sockets.dir, `bare-${i}.sock`))));
  const clients = await Promise.all(bares.map((b) => rawClient(b.address)));
  const pool = await ToolPool.start({
    tools: BENCH_TOOLS,
    size: 2,
    concurrency: 32,
    maxConcurrentPerWorker: 32,
    name: 'bench-throughput',
    heartbeatIntervalMs: 60_000,
    // The gRPC unary path (the fallback when a worker has no lane); the lane has its own suite.
    lane: false,
  });
  try {
    // With the same 30 s deadline as the pool's calls (its default budget), like the raw clients to
    // the pool's own workers below: like with like.
    const raw = (i: number) => rawCall(clients[i % 2]!, ARGS, true);
    const viaPool = () => pool.call('echo', ARGS);
    const same = await Promise.all(
      pool.stats().workers.map((w) => rawClient(w.address, pool.workerSecret())),
    );
    const rawSdk = (i: number) => rawCall(same[i % 2]!, ARGS, true);
    try {
      for (const f of [raw, viaPool, rawSdk]) await rate(2000, f);
      return [
        await compare(
          'throughput, gRPC path (lane: false), 2 workers, 64 in flight (async echo tool)',
          viaPool,
          raw,
          targets.throughput,
        ),
        await compare(
          'throughput vs raw clients to the same 2 workers (TS side alone)',
          viaPool,
          rawSdk,
          targets.throughputSameWorkers,
        ),
      ];
    } finally {
      for (const c of same) c.close();
    }
  } finally {
    await pool.stop();
    for (const c of clients) c.close();
    await Promise.all(bares.map((b) => b.stop()));
    sockets.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchThroughput(), null, 2));
