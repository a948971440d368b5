/**
 * The Python worker alone, across checkouts: raw grpc-js clients (no ToolPool) calling bare grpcio
 * servers, this checkout's trellis_worker and the trellis_worker of older checkouts, in one Node
 * process, in interleaved rounds (the arms' order turns each round). Not a suite of `pnpm bench`: an
 * investigation tool for a gRPC-path row that reads "no" (is the worker slower than it was?).
 *
 *   node packages/grpc-bridge/dist/bench/ab-worker.js [name=/path/to/old/checkout ...]
 *
 * An old checkout needs only its Python SDK with generated stubs (`git worktree add /tmp/x <commit>
 * && cd /tmp/x && node scripts/gen-python-stubs.mjs --python <this checkout's .venv/bin/python>`);
 * its own bench_tools.py is served. Each call is sent as the pool sends it: a call id and a 30 s
 * deadline; this checkout's workers get a per-run secret and the clients send it. Per arm it prints
 * the median calls/s with 2 processes x 64 in flight, the p50 of 1 call in flight, both as medians of
 * per-round ratios to the bare servers, and the worker processes' CPU per call (user+sys from
 * /proc/<pid>/stat, every thread) in the throughput rounds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { ServiceError } from '@grpc/grpc-js';
import type { ToolServiceClient } from '../src/generated/trellis/bridge/v1/ToolService.js';
import { resolvePython } from '../src/index.js';
import { BENCH_TOOLS, rawClient, socketDir, startBare } from './bare.js';
import { median } from './result.js';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const RATE_CALLS = 3000;
const P50_CALLS = 1000;
const IN_FLIGHT = 64;
const DATA = Buffer.from(JSON.stringify({ value: 'x'.repeat(64) }));

interface Arm {
  readonly clients: ToolServiceClient[];
  readonly pids: number[];
}

let seq = 0;
function call(c: ToolServiceClient): Promise<void> {
  return new Promise((resolve, reject) =>
    c.Execute(
      {
        tool: 'echo',
        callId: `ab-${seq++}`,
        payload: { data: DATA, contentType: 'application/json' },
      },
      { deadline: new Date(Date.now() + 30_000) },
      (err: ServiceError | null) => (err ? reject(err) : resolve()),
    ),
  );
}

/** CPU time (us) of these processes so far, all threads (utime + stime, in clock ticks of 10 ms). */
function cpuUs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * 10_000;
}

async function rate(clients: ToolServiceClient[], n: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await call(clients[next++ % clients.length]!);
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

async function p50(c: ToolServiceClient, n: number): Promise<number> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(c);
    lat.push(performance.now() - t);
  }
  return median(lat) * 1000;
}

const sockets = socketDir();
const python = resolvePython().command;
const children: ChildProcess[] = [];

function worker(
  name: string,
  tools: string,
  env: NodeJS.ProcessEnv,
): Promise<{ pid: number; address: string }> {
  const address = `unix:${join(sockets.dir, `${name}.sock`)}`;
  const child = spawn(
    python,
    [
      '-m',
      'trellis_worker',
      '--tools',
      tools,
      '--listen',
      address,
      '--trellis-run-id=trellis-test-marker-ab',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env: { ...process.env, ...env } },
  );
  children.push(child);
  child.stdin!.on('error', () => {});
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker ${name} exited with ${code} before readiness`)));
    createInterface({ input: child.stdout! }).once('line', () => resolve({ pid: child.pid!, address }));
  });
}

const bares = await Promise.all([0, 1].map((i) => startBare(join(sockets.dir, `bare-${i}.sock`))));
try {
  const arms = new Map<string, Arm>();
  arms.set('bare grpcio', {
    clients: await Promise.all(bares.map((b) => rawClient(b.address))),
    pids: bares.map((b) => b.child.pid!),
  });
  const secret = randomBytes(24).toString('hex');
  const here = await Promise.all(
    [0, 1].map((i) => worker(`here-${i}`, BENCH_TOOLS, { TRELLIS_WORKER_SECRET: secret })),
  );
  arms.set('this checkout', {
    clients: await Promise.all(here.map((w) => rawClient(w.address, secret))),
    pids: here.map((w) => w.pid),
  });
  for (const spec of process.argv.slice(2)) {
    const [name, dir] = spec.includes('=') ? (spec.split('=') as [string, string]) : [spec, spec];
    const tools = join(dir, 'packages/grpc-bridge/bench/bench_tools.py');
    const env = { PYTHONPATH: join(dir, 'packages/python-sdk'), TRELLIS_WORKER_SECRET: '' };
    const ws = await Promise.all([0, 1].map((i) => worker(`${name}-${i}`, tools, env)));
    arms.set(name, {
      clients: await Promise.all(ws.map((w) => rawClient(w.address))),
      pids: ws.map((w) => w.pid),
    });
  }
  const names = [...arms.keys()];
  for (const arm of arms.values()) {
    await rate(arm.clients, 1000);
    await p50(arm.clients[0]!, 300);
  }
  const out = new Map(
    names.map((k) => [k, { rate: [] as number[], p50: [] as number[], cpu: [] as number[] }]),
  );
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    if (r % 2) order.reverse();
    for (const k of order) {
      const arm = arms.get(k)!;
      const c0 = cpuUs(arm.pids);
      out.get(k)!.rate.push(await rate(arm.clients, RATE_CALLS));
      out.get(k)!.cpu.push((cpuUs(arm.pids) - c0) / RATE_CALLS);
    }
    for (const k of order) out.get(k)!.p50.push(await p50(arms.get(k)!.clients[0]!, P50_CALLS));
  }
  const base = out.get('bare grpcio')!;
  const rows = names.map((k) => {
    const o = out.get(k)!;
    return {
      arm: k,
      'calls/s': Math.round(median(o.rate)),
      'calls/s vs bare': +median(o.rate.map((v, i) => v / base.rate[i]!)).toFixed(3),
      'p50 us': Math.round(median(o.p50)),
      'p50 vs bare': +median(o.p50.map((v, i) => v / base.p50[i]!)).toFixed(3),
      'worker CPU us/call': Math.round(median(o.cpu)),
    };
  });
  console.table(rows);
  for (const arm of arms.values()) for (const c of arm.clients) c.close();
} finally {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(bares.map((b) => b.stop()));
  sockets.remove();
}
