/**
 * A pool's start, across checkouts: `ToolPool.start` of 8 workers from this checkout (with the lane,
 * with `lane: false`, with `TRELLIS_WORKER_CGROUPS=off`) and from an older, built checkout, and 8
 * bare grpcio servers, in one Node process, in interleaved rounds (the order turns each round). Not a
 * suite of `pnpm bench`: an investigation tool for the startup rows (has the pool's start slowed?).
 *
 *   node packages/grpc-bridge/dist/bench/ab-start.js /path/to/old/checkout
 *
 * The old checkout must be installed and built (`git worktree add /tmp/x <commit> && cd /tmp/x &&
 * pnpm install --frozen-lockfile && pnpm build`); its pool runs its own SDK and bench tools.
 * Prints each arm's median time to ready and the medians of its per-round ratios to the bare
 * servers and to the old checkout's pool.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ToolPool } from '../src/index.js';
import { BENCH_TOOLS, socketDir, startBare } from './bare.js';
import { median } from './result.js';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const WORKERS = 8;
const oldDir = process.argv[2];
if (!oldDir) throw new Error('usage: ab-start.js /path/to/old/checkout (installed and built)');
const old = (await import(pathToFileURL(join(oldDir, 'packages/grpc-bridge/dist/src/index.js')).href)) as {
  ToolPool: typeof ToolPool;
};
const OLD_TOOLS = join(oldDir, 'packages/grpc-bridge/bench/bench_tools.py');

async function timed(start: () => Promise<{ stop(): Promise<unknown> }>): Promise<number> {
  const t = performance.now();
  const pool = await start();
  const ms = performance.now() - t;
  await pool.stop();
  return ms;
}

const arms: Record<string, () => Promise<number>> = {
  'this checkout': () => timed(() => ToolPool.start({ tools: BENCH_TOOLS, size: WORKERS, name: 'ab-here' })),
  'this, lane: false': () =>
    timed(() => ToolPool.start({ tools: BENCH_TOOLS, size: WORKERS, name: 'ab-here-unary', lane: false })),
  'this, no cgroups': async () => {
    // Read by each pool's start (WorkerCgroups.open), so setting it around one start is enough.
    process.env.TRELLIS_WORKER_CGROUPS = 'off';
    try {
      return await timed(() => ToolPool.start({ tools: BENCH_TOOLS, size: WORKERS, name: 'ab-here-nocg' }));
    } finally {
      delete process.env.TRELLIS_WORKER_CGROUPS;
    }
  },
  old: () => timed(() => old.ToolPool.start({ tools: OLD_TOOLS, size: WORKERS, name: 'ab-old' })),
  'bare grpcio': async () => {
    const sockets = socketDir();
    try {
      const t = performance.now();
      const servers = await Promise.all(
        Array.from({ length: WORKERS }, (_, i) => startBare(join(sockets.dir, `b${i}.sock`))),
      );
      const ms = performance.now() - t;
      await Promise.all(servers.map((s) => s.stop()));
      return ms;
    } finally {
      sockets.remove();
    }
  },
};

const names = Object.keys(arms);
const out = new Map(names.map((k) => [k, [] as number[]]));
for (const k of names) await arms[k]!(); // warm-up: imports, first spawns
for (let r = 0; r < ROUNDS; r++) {
  const order = names.map((_, i) => names[(i + r) % names.length]!);
  if (r % 2) order.reverse();
  for (const k of order) out.get(k)!.push(await arms[k]!());
}
const per = (k: string, base: string) => median(out.get(k)!.map((v, i) => v / out.get(base)![i]!));
console.table(
  names.map((k) => ({
    arm: k,
    'ready ms': Math.round(median(out.get(k)!)),
    'vs bare': +per(k, 'bare grpcio').toFixed(3),
    'vs old': +per(k, 'old').toFixed(3),
  })),
);
