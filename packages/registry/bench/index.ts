/**
 * Registry benchmarks (issue 3). Every figure is a median over many iterations and is paired with a
 * baseline measured in the same run, on the same machine, interleaved where possible:
 *
 * - spawn: the time spent in reserve + activate + untrack for one spawn, against the same three writes
 *   (putSync, transactionSync get+putSync, removeSync) of the same record on a raw lmdb database with
 *   the store's options (p50 ratio, target <= 3; the first run read 2.26x, not profiled further); a
 *   tracked `spawnProcess` of /bin/true end to end (spawn to exit and record removed) against a bare
 *   `child_process.spawn` of it with the same argument vector (p50 ratio, target <= 1.2); and the
 *   same against `spawnProcess` with a no-op tracker, which isolates the registry's share;
 * - sweep: reaping 1,000 stale records of a dead run, against one /proc pass plus removing 1,000 such
 *   records in one raw lmdb transaction (the least a sweep must do; ratio target <= 3);
 * - peer check: the peer watch's tick with 10 live runs recorded, against one /proc pass (ratio
 *   target <= 0.25: the tick must stay far cheaper than the scan it avoids);
 * - stop: `stopAll` of 50 children that honour SIGTERM, against signalling the same number of bare
 *   children and awaiting their exit (ratio target <= 25: the grace period, 1000 ms, is never waited
 *   for; the figure is printed beside it).
 *
 * No target is an absolute time: each is a ratio to its same-run baseline, so "no" means a
 * regression, never a slow or loaded machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isProcessAlive,
  type ProcessActivation,
  type ProcessTracker,
  readBootId,
  readPidNamespace,
  readProcStat,
  runMarker,
  spawnProcess,
  type TrackedProcessInfo,
} from '@trellis/core';
import { currentIdentity } from '@trellis/home';
import { open } from 'lmdb';
import { createRunId, homeTagFor, Registry, RegistryStore } from '../src/index.js';
import { snapshotProcesses } from '../src/proc-scan.js';
import { anyDeadRun } from '../src/sweep.js';
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
}

const quiet = { info: () => {}, warn: (m: string) => process.stderr.write(`${m}\n`) };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function result(name: string, value: number, unit: string, baseline: number, target: Target): Result {
  return {
    name,
    value: round(value),
    unit,
    baseline: round(baseline),
    baselineName: target.baseline,
    ratio: round(value / baseline),
    target,
  };
}

/** Delegates to the registry and adds up the time spent inside its three calls. */
class TimedTracker implements ProcessTracker {
  spent = 0;
  constructor(private readonly inner: Registry) {}
  get runId(): string {
    return this.inner.runId;
  }
  get marker(): string {
    return this.inner.marker;
  }
  reserve(info: TrackedProcessInfo): string {
    const t = performance.now();
    const id = this.inner.reserve(info);
    this.spent += performance.now() - t;
    return id;
  }
  activate(id: string, a: ProcessActivation): void {
    const t = performance.now();
    this.inner.activate(id, a);
    this.spent += performance.now() - t;
  }
  untrack(ref: string | number): void {
    const t = performance.now();
    this.inner.untrack(ref);
    this.spent += performance.now() - t;
  }
}

function bareSpawn(command: string, args: string[], detached = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(command, args, { stdio: 'ignore', detached });
    c.once('error', reject);
    c.once('exit', () => resolve(c.pid!));
  });
}

async function benchSpawn(dir: string, iterations: number): Promise<Result[]> {
  const registry = await Registry.open({ dir, logger: quiet, installTracker: false });
  const tracker = new TimedTracker(registry);
  // Same run id and marker as the registry, but records nothing: spawnProcess's own work (own process
  // group, /proc read, marker, environment) without the registry's.
  const noop: ProcessTracker = {
    runId: registry.runId,
    marker: registry.marker,
    reserve: () => 'noop',
    activate: () => {},
    untrack: () => {},
  };
  const samples = {
    bare: [] as number[],
    noop: [] as number[],
    tracked: [] as number[],
    ops: [] as number[],
  };
  const arms = {
    // The bare spawn gets the identical argument vector (the marker included): a program's own
    // reaction to its arguments (GNU true initialises its locale when given exactly one) is not the
    // registry's cost.
    bare: async (): Promise<number> => {
      const t = performance.now();
      await bareSpawn('/bin/true', [registry.marker]);
      return performance.now() - t;
    },
    noop: async (): Promise<number> => {
      const t = performance.now();
      const h = await spawnProcess('/bin/true', [], { stdio: 'ignore', tracker: noop });
      await h.exited;
      return performance.now() - t;
    },
    tracked: async (): Promise<number> => {
      tracker.spent = 0;
      const t = performance.now();
      const h = await spawnProcess('/bin/true', [], { stdio: 'ignore', tracker });
      await h.exited;
      return performance.now() - t;
    },
  };
  const order = [
    ['bare', 'noop', 'tracked'],
    ['tracked', 'bare', 'noop'],
    ['noop', 'tracked', 'bare'],
  ] as const;
  // The registry's three writes done straight on lmdb, same options as the store (json, noSync, no
  // cache), same record: what any tracker writing to LMDB pays, so the ratio is the registry's own.
  const raw = open<unknown, string>({
    path: join(dir, 'raw-baseline.mdb'),
    encoding: 'json',
    noSync: true,
    cache: false,
  });
  const rawRecord = {
    runId: registry.runId,
    reservationId: `${registry.runId}/raw`,
    state: 'reserved',
    marker: registry.marker,
    role: 'bench',
    name: 'true',
    command: '/bin/true',
    args: [registry.marker],
    recordedAt: new Date().toISOString(),
  };
  const rawWrites = (): number => {
    const t = performance.now();
    raw.putSync('child:raw', rawRecord);
    raw.transactionSync(() => {
      const cur = raw.get('child:raw') as typeof rawRecord;
      raw.putSync('child:raw', { ...cur, state: 'active', pid: 1, pgid: 1, startTime: 1 });
    });
    raw.removeSync('child:raw');
    return performance.now() - t;
  };
  const rawOps: number[] = [];
  try {
    // Interleaved, rotating the order each round, so drift in machine load and any order effect hit
    // every arm alike; the first 20 rounds are warm-up.
    for (let i = 0; i < iterations + 20; i++) {
      for (const arm of order[i % 3]!) {
        const ms = await arms[arm]();
        if (i < 20) continue;
        samples[arm].push(ms);
        if (arm === 'tracked') {
          samples.ops.push(tracker.spent);
          rawOps.push(rawWrites());
        }
      }
    }
  } finally {
    await raw.close();
    await registry.close();
  }
  const rawP50 = median(rawOps);
  const bare = median(samples.bare);
  const noopP50 = median(samples.noop);
  const ops = median(samples.ops);
  const tracked = median(samples.tracked);
  return [
    result('spawn.registry_ops_p50', ops, 'ms', rawP50, targets.registryOps),
    result('spawn.tracked_vs_bare_p50', tracked, 'ms', bare, targets.trackedVsBare),
    result('spawn.tracked_vs_untracked_p50', tracked, 'ms', noopP50, targets.trackedVsUntracked),
  ];
}

/** Writes a dead run (its host PID is this process with another start time) with `n` stale children. */
function writeStaleRun(store: RegistryStore, n: number): void {
  const me = readProcStat(process.pid)!;
  const runId = createRunId(homeTagFor(store.dir), { pid: process.pid, startTime: me.startTime - 1 });
  store.putRun({
    runId,
    hostPid: process.pid,
    hostStartTime: me.startTime - 1,
    bootId: readBootId()!,
    hostname: hostname(),
    pidNamespace: readPidNamespace()!,
    startedAt: new Date().toISOString(),
    cwd: process.cwd(),
  });
  let pid = 4_000_000; // PIDs this high are rare (pid_max is 32768 or 4194304); any alive one is skipped
  for (let i = 0; i < n; i++) {
    while (isProcessAlive(++pid));
    store.putChild({
      runId,
      reservationId: `${runId}/stale-${i}`,
      state: 'active',
      marker: runMarker(runId),
      role: 'bench',
      name: `stale-${i}`,
      command: 'sleep',
      args: ['300', runMarker(runId)],
      recordedAt: new Date().toISOString(),
      pid,
      pgid: pid,
      startTime: 12345,
    });
  }
}

async function benchSweep(dir: string, repeats: number): Promise<Result> {
  // The periodic watch for dead peers is off: it would reap the stale run before the timed sweep.
  const registry = await Registry.open({
    dir,
    logger: quiet,
    installTracker: false,
    sweepAtBoot: false,
    peerCheckMs: 0,
  });
  const writer = RegistryStore.open({ dir, logger: quiet });
  const raw = open<unknown, string>({
    path: join(dir, 'raw-baseline.mdb'),
    encoding: 'json',
    noSync: true,
    cache: false,
  });
  const sweeps: number[] = [];
  const scans: number[] = [];
  try {
    for (let i = 0; i < repeats; i++) {
      writeStaleRun(writer, 1000);
      // Baseline: one /proc pass plus removing 1,000 records of the same shape in one raw transaction.
      raw.transactionSync(() => {
        for (let k = 0; k < 1000; k++)
          raw.putSync(`child:${k}`, { n: k, marker: 'x'.repeat(60), args: ['300'] });
      });
      let t = performance.now();
      snapshotProcesses(true);
      raw.transactionSync(() => {
        for (let k = 0; k < 1000; k++) raw.removeSync(`child:${k}`);
      });
      scans.push(performance.now() - t);
      t = performance.now();
      const report = await registry.sweep();
      sweeps.push(performance.now() - t);
      if (report.droppedDead.length !== 1000)
        throw new Error(`sweep dropped ${report.droppedDead.length}, not 1000`);
    }
  } finally {
    await raw.close();
    await writer.close();
    await registry.close();
  }
  const value = median(sweeps);
  const base = median(scans);
  return result('sweep.1000_stale_records', value, 'ms', base, targets.sweep);
}

/**
 * The peer watch's tick (issue 13, defect 2): with `runs` live runs recorded beside this one, the
 * cheap question "is any run dead?" (one range read of the run records, one /proc/<pid>/stat read per
 * run), against one /proc pass without markers (the least a sweep costs). Target: well under 1 ms,
 * so a check every second costs nothing noticeable.
 */
async function benchPeerCheck(dir: string, runs: number, iterations: number): Promise<Result> {
  const registry = await Registry.open({
    dir,
    logger: quiet,
    installTracker: false,
    sweepAtBoot: false,
    peerCheckMs: 0,
  });
  const writer = RegistryStore.open({ dir, logger: quiet });
  const checks: number[] = [];
  const scans: number[] = [];
  try {
    // Live peers: this process's own PID and start time make every one of them alive.
    const me = readProcStat(process.pid)!;
    for (let i = 0; i < runs; i++) {
      const runId = createRunId(homeTagFor(dir), { pid: process.pid, startTime: me.startTime });
      writer.putRun({
        runId,
        hostPid: process.pid,
        hostStartTime: me.startTime,
        bootId: readBootId()!,
        hostname: hostname(),
        pidNamespace: readPidNamespace()!,
        startedAt: new Date().toISOString(),
        cwd: dir,
      });
    }
    const here = currentIdentity(homeTagFor(dir));
    for (let i = 0; i < iterations; i++) {
      let t = performance.now();
      const dead = anyDeadRun(writer, here, registry.runId);
      checks.push(performance.now() - t);
      if (dead) throw new Error('a live run was judged dead');
      t = performance.now();
      snapshotProcesses(false);
      scans.push(performance.now() - t);
    }
  } finally {
    await writer.close();
    await registry.close();
  }
  const value = median(checks);
  const base = median(scans);
  return result(`peer_check.${runs}_live_runs`, value, 'ms', base, targets.peerCheck);
}

async function benchStop(dir: string, repeats: number, children: number, graceMs: number): Promise<Result> {
  const stops: number[] = [];
  const bares: number[] = [];
  const args = ['-c', 'sleep 300 & wait', 'trellis-bench'];
  for (let r = 0; r < repeats; r++) {
    const registry = await Registry.open({ dir, logger: quiet, installTracker: false, graceMs });
    try {
      const handles = await Promise.all(
        Array.from({ length: children }, () =>
          spawnProcess('bash', args, { stdio: 'ignore', tracker: registry }),
        ),
      );
      await waitGroupsUp(handles.map((h) => h.pgid));
      const t = performance.now();
      const report = await registry.stopAll();
      stops.push(performance.now() - t);
      if (report.killed.length !== children || report.survivors.length > 0)
        throw new Error('stopAll missed children');
      await Promise.all(handles.map((h) => h.exited));
    } finally {
      await registry.close();
    }
    // Baseline: the same children, untracked, stopped by signalling each group and awaiting exits.
    const bare = await Promise.all(
      Array.from(
        { length: children },
        () =>
          new Promise<{ pid: number; exited: Promise<void> }>((resolve, reject) => {
            const c = spawn('bash', args, { stdio: 'ignore', detached: true });
            c.once('error', reject);
            c.once('spawn', () =>
              resolve({ pid: c.pid!, exited: new Promise((r) => c.once('exit', () => r())) }),
            );
          }),
      ),
    );
    await waitGroupsUp(bare.map((b) => b.pid));
    const t = performance.now();
    for (const b of bare) process.kill(-b.pid, 'SIGTERM');
    await Promise.all(bare.map((b) => b.exited));
    bares.push(performance.now() - t);
  }
  const value = median(stops);
  const base = median(bares);
  return result(`stop.${children}_children_sigterm`, value, 'ms', base, targets.stop);
}

/** Waits (bounded) until every group has its shell and its sleep, so the stop stops a full tree. */
async function waitGroupsUp(pgids: number[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const members = new Map<number, number>();
    for (const st of snapshotProcesses(false).live.values())
      members.set(st.pgid, (members.get(st.pgid) ?? 0) + 1);
    if (pgids.every((g) => (members.get(g) ?? 0) >= 2)) return;
    if (Date.now() > deadline) throw new Error('children did not start');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface RunOptions {
  spawnIterations?: number;
  sweepRepeats?: number;
  stopRepeats?: number;
}

/** Runs `fn` with a fresh temporary registry directory, removed afterwards. */
async function inTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-registry-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One suite per figure, for `pnpm bench registry` (each runs in a fresh process there). */
export const suites = {
  spawn: (): Promise<Result[]> => inTmp((dir) => benchSpawn(dir, 500)),
  sweep: (): Promise<Result[]> => inTmp(async (dir) => [await benchSweep(dir, 15)]),
  peerCheck: (): Promise<Result[]> => inTmp(async (dir) => [await benchPeerCheck(dir, 10, 500)]),
  stop: (): Promise<Result[]> => inTmp(async (dir) => [await benchStop(dir, 3, 50, 1000)]),
};

/** Every figure in this process (`node packages/registry/dist/bench/run.js`). */
export async function run(options: RunOptions = {}): Promise<Result[]> {
  return inTmp(async (dir) => [
    ...(await benchSpawn(join(dir, 'spawn'), options.spawnIterations ?? 500)),
    await benchSweep(join(dir, 'sweep'), options.sweepRepeats ?? 15),
    await benchPeerCheck(join(dir, 'peer-check'), 10, 500),
    await benchStop(join(dir, 'stop'), options.stopRepeats ?? 3, 50, 1000),
  ]);
}
