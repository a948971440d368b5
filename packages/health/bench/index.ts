/**
 * Health and lease benchmarks (issue 6). Every figure is a median over rounds and is paired with a
 * baseline measured in the same run, interleaved with it:
 *
 * - monitor CPU: 1,000 actors each waking every 100 ms for ~5 s, with heartbeat monitoring (beat on
 *   every wake, one scan timer, LMDB flushes) against the same actors and timers without it; CPU is
 *   process.cpuUsage() over wall time, in % of one core. Target: ratio <= 3 (median of the per-round
 *   ratios; the added % of one core is printed beside it).
 * - lease renew: p50 of one awaited keepAlive (one LMDB write transaction) against a bare LMDB
 *   putSync of the same record in the same file. Target: ratio <= 3 (a ratio, never an absolute
 *   time: "no" must mean a regression, not a slow disk or a loaded box).
 * - failover: kill -9 of the leader process to the follower process holding the lease, against the
 *   TTL (the wait no design can avoid). Target: <= TTL + one renew interval. (It is often below the
 *   TTL: the lease expires TTL after the leader's LAST renewal, which preceded the kill.) Also the
 *   delay from the orphaned lease's expiry to the takeover, against one renew interval.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awaitExit, Exit, exit, type Pid, spawn, TIMEOUT } from '@trellis/core';
import { open } from 'lmdb';
import {
  findHealthMonitor,
  heartbeat,
  hostMonotonicMs,
  LmdbLeaseStore,
  startHealthMonitor,
} from '../src/index.js';
import { Child } from '../test/helpers.js';
import { targets } from './targets.js';

type Target = (typeof targets)[keyof typeof targets];

export interface Result {
  name: string;
  value: number;
  unit: string;
  /** The same-run reference the value is compared with. */
  baseline: number;
  baselineName: string;
  /** value / baseline. */
  ratio: number;
  /** An entry of bench/targets.ts: scripts/bench.mjs renders and judges it. */
  target: Target;
  /** The suite's own verdict of a protocol bound (the runner judges ratios itself). */
  pass?: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function result(
  name: string,
  value: number,
  unit: string,
  baseline: number,
  baselineName: string,
  target: Target,
  pass?: boolean,
): Result {
  return {
    name,
    value: round(value),
    unit,
    baseline: round(baseline),
    baselineName,
    ratio: round(value / baseline),
    target,
    ...(pass === undefined ? {} : { pass }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- monitor CPU ---------------------------------------------------------------------------------

export interface CpuOptions {
  readonly actors?: number;
  readonly intervalMs?: number;
  readonly seconds?: number;
  readonly rounds?: number;
}

/** CPU (% of one core) of `actors` processes waking every `intervalMs`, beating or not. */
async function cpuRound(
  actors: number,
  intervalMs: number,
  seconds: number,
  monitored: boolean,
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-health-bench-'));
  const name = `bench-health-${monitored}`;
  let mon: Pid | undefined;
  if (monitored) mon = await startHealthMonitor({ dir, name });
  const monitor = monitored ? findHealthMonitor(name) : undefined;
  const pids: Pid[] = [];
  for (let i = 0; i < actors; i++) {
    const pid = spawn(async (ctx) => {
      // The actor's work loop: wake every interval; a monitored one beats on every wake.
      for (;;) {
        const m = await ctx.receive(undefined, intervalMs);
        if (m !== TIMEOUT) return;
        if (monitored) heartbeat(ctx, name);
      }
    });
    monitor?.register(pid, { key: `a${i}`, intervalMs });
    pids.push(pid);
  }
  await sleep(intervalMs * 3); // past start-up: every actor is active
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  if (monitor !== undefined) {
    const active = monitor.list().filter((r) => r.state === 'active').length;
    if (active !== actors) throw new Error(`only ${active} of ${actors} monitored actors were active`);
  }
  for (const p of pids) exit(p, 'kill');
  await Promise.all(pids.map((p) => awaitExit(p)));
  if (mon !== undefined) {
    const done = awaitExit(mon);
    exit(mon, Exit.shutdown());
    await done;
  }
  rmSync(dir, { recursive: true, force: true });
  return ((c.user + c.system) / 1000 / wall) * 100;
}

export async function benchMonitorCpu(o: CpuOptions = {}): Promise<Result[]> {
  const actors = o.actors ?? 1000;
  const intervalMs = o.intervalMs ?? 100;
  const seconds = o.seconds ?? 5;
  const rounds = o.rounds ?? 3;
  const base: number[] = [];
  const mon: number[] = [];
  const delta: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Interleaved, so drift of the machine's load affects both alike.
    const b = await cpuRound(actors, intervalMs, seconds, false);
    const m = await cpuRound(actors, intervalMs, seconds, true);
    base.push(b);
    mon.push(m);
    delta.push(m - b);
    ratios.push(m / b);
  }
  const overhead = median(delta);
  // A ratio, not "adds <= 5% of one core": on a slower or loaded box both arms cost more CPU alike.
  const ratio = median(ratios);
  return [
    result(
      `monitor_cpu_${actors}x${intervalMs}ms (median added ${round(overhead, 2)}% of one core)`,
      median(mon),
      '% of one core',
      median(base),
      targets.monitorCpu.baseline,
      targets.monitorCpu,
    ),
  ].map((r) => ({ ...r, ratio: round(ratio) }));
}

// ---- lease renew ---------------------------------------------------------------------------------

export async function benchLeaseRenew(iterations = 3000): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-lease-bench-'));
  const store = LmdbLeaseStore.open({ dir });
  // The same file, opened directly: lmdb-js shares the environment within a process.
  const raw = open<unknown, string>({ path: join(dir, 'leases.mdb'), noSync: true });
  try {
    const g = await store.grant('bench', { id: 'bench' }, 60_000);
    if (!g.granted) throw new Error('could not acquire the bench lease');
    const record = store.getSync('bench');
    const renew: number[] = [];
    const put: number[] = [];
    for (let i = 0; i < iterations; i++) {
      let t = performance.now();
      const r = await store.keepAlive('bench', 'bench', g.lease.epoch);
      renew.push(performance.now() - t);
      if (!r.renewed) throw new Error('renewal refused in the bench');
      t = performance.now();
      raw.putSync('bench:bare', record);
      put.push(performance.now() - t);
    }
    const p50 = median(renew);
    return [
      result('lease_renew_p50', p50, 'ms', median(put), targets.leaseRenew.baseline, targets.leaseRenew),
    ];
  } finally {
    await raw.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- failover ------------------------------------------------------------------------------------

export async function benchFailover(rounds = 5, ttlMs = 1000, renewIntervalMs = 200): Promise<Result[]> {
  const times: number[] = [];
  const afterExpiry: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-failover-bench-'));
    const args = [dir, 'bench', String(ttlMs), String(renewIntervalMs), 'keeper'];
    const leader = new Child('lease-node.js', args);
    let follower: Child | undefined;
    try {
      const lr = await leader.next((m) => m.op === 'ready', 'leader ready');
      if (lr.status.role !== 'leader') throw new Error('the first process did not lead');
      follower = new Child('lease-node.js', args);
      await follower.next((m) => m.op === 'ready', 'follower ready');
      await sleep(renewIntervalMs * 2); // a renewal or two in, at a random phase of the renew cycle
      const killedAt = hostMonotonicMs();
      leader.kill9();
      await leader.exited;
      // Nobody renews any more: the deadline the follower must wait for.
      const store = LmdbLeaseStore.open({ dir });
      const expiresAt = store.getSync('bench')!.expiresAt;
      await store.close();
      const took = await follower.next(
        (m) => m.op === 'status' && m.status.role === 'leader',
        'takeover',
        ttlMs * 10,
      );
      times.push(took.at - killedAt);
      afterExpiry.push(took.at - expiresAt);
    } finally {
      leader.kill9();
      await follower?.stop();
      await leader.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const t = median(times);
  return [
    result(
      'failover_after_kill9',
      t,
      'ms',
      ttlMs,
      `the TTL (${ttlMs} ms; bound: + one renew interval = ${ttlMs + renewIntervalMs} ms)`,
      targets.failover,
      t <= ttlMs + renewIntervalMs,
    ),
    // The part the follower controls: how long after the orphaned lease expired it took over.
    result(
      'takeover_after_expiry',
      median(afterExpiry),
      'ms',
      renewIntervalMs,
      `the renew interval (${renewIntervalMs} ms)`,
      targets.takeoverAfterExpiry,
      median(afterExpiry) <= renewIntervalMs && Math.min(...afterExpiry) >= 0,
    ),
  ];
}

export interface RunOptions {
  readonly cpu?: CpuOptions;
}

export async function run(options: RunOptions = {}): Promise<Result[]> {
  return [...(await benchLeaseRenew()), ...(await benchFailover()), ...(await benchMonitorCpu(options.cpu))];
}

/** For `pnpm bench health` (scripts/bench.mjs): each suite runs in a fresh process. */
export const suites = {
  lease_renew: () => benchLeaseRenew(),
  failover: () => benchFailover(),
  monitor_cpu: () => benchMonitorCpu(),
};
