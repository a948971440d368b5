/**
 * `pnpm chaos [--duration 120s] [--seed N] [--json path] [--fuzz-scale X] [--no-docs]`
 *
 * The driver. It runs the system under test as CHILD node processes so that it can kill the whole
 * host with SIGKILL:
 *
 *   1. run A: the chaos tree under load, with the seeded in-process faults;
 *   2. at a random point (the schedule's hostKillAtMs), kill -9 of A; wait until A's workers have
 *      exited on their own (parent-death signal); what is left of run A is the orphans;
 *   3. run B: a fresh host on the same registry directory; its registry must sweep every orphan;
 *      B carries the load and the faults to the end, settles, checks itself and stops in order;
 *   4. the fuzz phase (fuzz-main.js, another child): bad input at every layer;
 *   5. the driver's checks: faults match exits and restarts, host RSS flat, the lease moved on,
 *      zero orphans in /proc (by marker and by descendant tree).
 *
 * Writes bench-results/chaos.json and the chaos section of docs/reliability.md; exits 1 when any
 * check failed.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '@trellis/core';
import { CHAOS_DEFAULTS } from './defaults.js';
import { removeLeftFillers } from './disk-fill.js';
import { type FuzzReport, runFuzzPhase } from './fuzz/phase.js';
import { type CheckResult, type SutConfig, verdictWord } from './ipc.js';
import { matchFaults } from './matcher.js';
import {
  DescendantTracker,
  type FoundProcess,
  findOrphans,
  killProcesses,
  type ProcKey,
  processesOfRuns,
} from './orphans.js';
import {
  type ChaosReport,
  faultTable,
  type HarnessRun,
  runHarness,
  summarizeCalls,
  writeChaosOutputs,
} from './report.js';
import { RunCgroups } from './run-cgroup.js';
import { buildSchedule } from './schedule.js';
import { mountSmallHome, SMALL_HOME_ENV, unmountSmallHome } from './small-home.js';
import { SutProcess } from './sut-process.js';
import { cleanStop, leaseMovedOn, rssFlat, sweepReapedOrphans } from './verdicts.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's state letter from /proc (`T`: stopped), or undefined when it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/**
 * SIGSTOPs up to `n` live workers of the run and returns the pids that are really stopped. Why a
 * loop: a fault may be killing the worker picked first (it is then gone, not an orphan), and on a
 * fast idle box every other worker dies of its parent's death within milliseconds of the kill, so
 * a run with no stopped worker leaves nothing for the fresh start's sweep to prove itself on.
 * Bounded: 40 tries, 50 ms apart.
 */
async function freezeWorkers(runId: string, n: number): Promise<number[]> {
  const stopped: number[] = [];
  for (let i = 0; i < 40 && stopped.length < n; i++) {
    for (const p of processesOfRuns([runId])) {
      if (stopped.length >= n || stopped.includes(p.pid) || !p.cmd.includes('trellis_worker')) continue;
      try {
        process.kill(p.pid, 'SIGSTOP');
      } catch {
        continue; // gone meanwhile
      }
      if (procState(p.pid) === 'T') stopped.push(p.pid);
    }
    if (stopped.length < n) await sleep(50);
  }
  return stopped;
}

/** What must not outlive the driver if the harness itself fails half-way. */
const spawned: SutProcess[] = [];
const tracker = new DescendantTracker(process.pid);
/** The home's own tmpfs, while mounted. */
let smallHome: string | undefined;
/** The runs' own cgroups (run-cgroup.ts), while they exist. */
let cgroups: RunCgroups | undefined;

async function main({ o, root, stamp }: HarnessRun): Promise<number> {
  console.log(`chaos: seed ${o.seed}, duration ${o.durationMs / 1000} s; replay with: ${o.replay}`);
  const schedule = buildSchedule(o.seed, o.durationMs);
  console.log(
    `chaos: ${schedule.faults.length} faults scheduled, host kill -9 at ${(schedule.hostKillAtMs! / 1000).toFixed(1)} s`,
  );
  const home = mkdtempSync(join(tmpdir(), 'trellis-chaos-'));
  // The disk-full fault fills the home: on a tmpfs of its own (root), never the shared /tmp.
  smallHome = mountSmallHome(home, CHAOS_DEFAULTS.smallHomeMiB) ? home : undefined;
  if (smallHome !== undefined) process.env[SMALL_HOME_ENV] = '1';
  cgroups = RunCgroups.open();
  // The tool-escape fault's tools write the (pid, start time) of the processes they start here.
  const escapeDir = mkdtempSync(join(tmpdir(), 'trellis-chaos-escapees-'));
  process.env.TRELLIS_CHAOS_ESCAPE_DIR = escapeDir;
  const logDir = join(root, 'bench-results', 'chaos-logs');
  mkdirSync(logDir, { recursive: true });
  tracker.start(250);
  const origin = Date.now();
  const now = () => Date.now() - origin;
  const config = (run: string): SutConfig => ({
    run,
    seed: o.seed,
    originEpochMs: origin,
    durationMs: o.durationMs,
    loadEndMs: o.durationMs,
    faults: true,
    hostKillAtMs: schedule.hostKillAtMs,
    callers: o.callers,
    sampleMs: o.sampleMs,
    reportMs: CHAOS_DEFAULTS.reportMs,
    cgroup: cgroups?.forRun(run),
  });
  const checks: CheckResult[] = [];

  // ---- run A, killed with SIGKILL -------------------------------------------------------------------
  const a = new SutProcess(config('A'), home, join(logDir, 'run-A.log'));
  spawned.push(a);
  // When run A ended, if before its kill -9: a host whose top supervisor gave up is a failure of
  // its own, named as such (else it shows only as "no orphan to sweep" after the kill).
  let exitedA: { atMs: number; code: number | null; signal: NodeJS.Signals | null } | undefined;
  void a.exited.then((e) => {
    exitedA = { atMs: now(), ...e };
  });
  const readyA = await a.waitReady(60_000);
  if (readyA === undefined) throw new Error(`run A never became ready (log: ${a.logPath})`);
  console.log(
    `chaos: run A (pid ${a.pid}) ready in ${(readyA.startMs / 1000).toFixed(1)} s; run id ${readyA.runId}`,
  );
  await sleep(Math.max(0, schedule.hostKillAtMs! - now()));
  // A worker the host's death cannot reach: SIGSTOPped, it cannot act on its parent-death signal
  // nor kill its tools' processes (since issue 13 a live worker does, so the helper processes alone
  // no longer survive the kill). It and its helper are the orphans B's sweep must find.
  const frozen = await freezeWorkers(readyA.runId, 2);
  console.log(`chaos: SIGSTOPped worker(s) ${frozen.join(', ') || 'none (no live worker found)'} of run A`);
  const killAt = now();
  const diedBefore = exitedA;
  a.kill9(killAt);
  await a.exited;
  checks.push({
    name: 'run A lived until its kill -9',
    ok: diedBefore === undefined,
    detail:
      diedBefore === undefined
        ? `killed at ${(killAt / 1000).toFixed(1)} s`
        : `it exited on its own (${diedBefore.code ?? diedBefore.signal}) at ${(diedBefore.atMs / 1000).toFixed(1)} s, before its kill at ${(killAt / 1000).toFixed(1)} s (log: ${a.logPath})`,
  });
  console.log(
    `chaos: kill -9 of run A at ${(killAt / 1000).toFixed(1)} s (last report ${((killAt - a.lastReportAtMs) / 1000).toFixed(2)} s before)`,
  );
  const orphans = await settleOrphans(readyA.runId);
  console.log(
    `chaos: ${orphans.length} processes of run A outlived it: ${orphans.map((p) => `${p.pid} (${p.cmd.slice(0, 40)})`).join(', ')}`,
  );

  // ---- run B, the fresh start ------------------------------------------------------------------------
  const fillers = removeLeftFillers(home);
  if (fillers.length > 0)
    console.log(`chaos: removed the disk-full filler run A left: ${fillers.join(', ')}`);
  const b = new SutProcess(config('B'), home, join(logDir, 'run-B.log'));
  spawned.push(b);
  const readyB = await b.waitReady(60_000);
  if (readyB === undefined) throw new Error(`run B never became ready (log: ${b.logPath})`);
  const leftAfterSweep = processesOfRuns([readyA.runId]);
  console.log(
    `chaos: run B (pid ${b.pid}) ready in ${(readyB.startMs / 1000).toFixed(1)} s; its sweep killed ${readyB.bootSweep?.killed.length ?? 0}`,
  );
  checks.push(sweepReapedOrphans(orphans, readyB.bootSweep, leftAfterSweep));
  const exitB = await b.exited;
  if (b.final === undefined)
    checks.push({
      name: 'run B finished',
      ok: false,
      detail: `exited ${exitB.code ?? exitB.signal} before its final report (log: ${b.logPath})`,
    });
  else
    checks.push({
      name: 'run B finished',
      ok: exitB.code === 0,
      detail: `exit code ${exitB.code}, orderly stop in ${Math.round(b.stopMs ?? -1)} ms`,
    });
  checks.push(...(b.final?.checks ?? []));
  checks.push(cleanStop(b.terminations, b.stopMs));
  console.log(`chaos: run B stopped (exit ${exitB.code ?? exitB.signal})`);

  // ---- driver checks -----------------------------------------------------------------------------------
  const match = matchFaults({
    faults: [...a.faults, ...b.faults],
    exits: [...a.exits, ...b.exits],
    restarts: [...a.restarts, ...b.restarts],
    recycles: [...a.recycles, ...b.recycles],
    windowEnd: { A: a.lastReportAtMs, B: Number.POSITIVE_INFINITY },
  });
  const bad = match.groups.filter((g) => !g.ok);
  checks.push({
    name: 'restarts match faults',
    ok: match.ok,
    detail: match.ok
      ? `${match.groups.length} groups: every exit explained by a fault, every effective fault shown, one restart per exit, one recycle per leak or stuck tool`
      : [
          ...bad.map(
            (g) =>
              `${g.run}/${g.group}: ${g.exits} exits for ${g.targets} targets, ${g.restarts} restarts (>= ${g.restartsExpectedMin})` +
              (g.unexplained.length
                ? `, unexplained ${g.unexplained.map((e) => `${e.target} ${e.code}`).join(' ')}`
                : '') +
              (g.missing.length
                ? `, missing ${g.missing.map((f) => `#${f.index} ${f.kind} -> ${f.target}`).join(' ')}`
                : '') +
              (g.unexplainedRecycles.length
                ? `, recycles without a leak ${g.unexplainedRecycles.map((r) => r.target).join(' ')}`
                : '') +
              (g.missingRecycles.length
                ? `, leaks never recycled ${g.missingRecycles.map((f) => f.target).join(' ')}`
                : '') +
              (g.codeMismatch.length
                ? `, codes ${g.codeMismatch.map((m) => `${m.exit.code} not in ${m.expected.join('|')}`).join(' ')}`
                : ''),
          ),
          ...match.unexpectedFaults.map((f) => `fault #${f.index} ${f.kind}: ${f.note ?? 'unexpected'}`),
        ].join('; '),
  });
  const rss = rssFlat(b.samples, readyB.atMs);
  checks.push(rss.check);
  checks.push(leaseMovedOn(a.leader?.epochs ?? [], b.final?.leader.epochs ?? b.leader?.epochs ?? []));

  // ---- fuzz ----------------------------------------------------------------------------------------------
  console.log(`chaos: fuzz phase (scale ${o.fuzzScale})`);
  const fuzz: FuzzReport = await runFuzzPhase({
    seed: o.seed,
    scale: o.fuzzScale,
    home,
    logPath: join(logDir, 'fuzz.log'),
  });
  checks.push(...fuzz.checks);

  // ---- orphans at the very end --------------------------------------------------------------------------
  tracker.stop();
  const runIds = [readyA.runId, readyB.runId, ...(fuzz.runId ? [fuzz.runId] : [])];
  let end = findOrphans({ runIds, tracker });
  for (let i = 0; i < 20 && end.total > 0; i++) {
    await sleep(100); // reaping is asynchronous in the kernel
    end = findOrphans({ runIds, tracker });
  }
  checks.push({
    name: 'zero orphans in /proc',
    ok: end.total === 0,
    detail:
      end.total === 0
        ? `no process of the ${runIds.length} runs found by marker or environment; none of the ${tracker.count} processes ever seen below the driver is alive`
        : [...end.byMarker, ...end.byDescendant].map((p) => `${p.pid} (${p.how}) ${p.cmd}`).join('; '),
  });
  if (end.total > 0) await killProcesses([...end.byMarker, ...end.byDescendant]);
  const escapees = survivingEscapees(escapeDir);
  checks.push({
    name: 'zero surviving tool descendants',
    ok: escapees.survivors.length === 0,
    detail:
      escapees.survivors.length === 0
        ? `all ${escapees.total} processes the tool-escape faults started (plain, setsid, double fork) are gone`
        : `${escapees.survivors.length} of ${escapees.total} still alive: ${escapees.survivors.map((p) => p.pid).join(', ')}`,
  });
  if (escapees.survivors.length > 0) await killProcesses(escapees.survivors);
  rmSync(escapeDir, { recursive: true, force: true });
  // Shared-memory payloads (the lane's /dev/shm segments) are tracked like processes: none of the
  // runs may leave one, whether it was stopped in order (B) or killed -9 (A, swept by B's registry).
  const segments = leftoverSegments(runIds);
  checks.push({
    name: 'zero leftover shared-memory segments',
    ok: segments.length === 0,
    detail:
      segments.length === 0
        ? `no /dev/shm/trellis-shm.<run>.* of the ${runIds.length} runs`
        : `left in /dev/shm: ${segments.join(', ')}`,
  });

  const report: ChaosReport = {
    kind: 'chaos',
    ok: checks.every((c) => c.ok),
    ...stamp(),
    hostKillAtMs: killAt,
    runs: [a, b].map((r) => ({
      run: r.run,
      runId: r.ready?.runId,
      pid: r.pid,
      startMs: r.ready?.startMs,
      readyAtMs: r.ready?.atMs,
      killedAtMs: r.killedAtMs,
      lastReportAtMs: r.lastReportAtMs,
      stopMs: r.stopMs,
      log: r.logPath,
      ledger: r.ledger,
      leader: r.final?.leader ?? r.leader,
      final: r.final,
    })),
    calls: summarizeCalls(a.ledger, b.ledger),
    faults: faultTable(schedule, [...a.faults, ...b.faults]),
    faultRecords: [...a.faults, ...b.faults],
    matching: match,
    sweep: { orphans, report: readyB.bootSweep },
    rss: { startMb: rss.startMb, endMb: rss.endMb, boundMb: rss.boundMb },
    orphansAtEnd: {
      total: end.total,
      processes: [...end.byMarker, ...end.byDescendant],
      descendantsSeen: tracker.count,
    },
    samplesB: b.samples.map((s) => ({
      tMs: s.tMs,
      rssMb: s.hostRssBytes / 2 ** 20,
      throughput: s.throughput,
      p99Ms: s.p99Ms,
      load1: s.load1,
    })),
    fuzz,
    checks,
  };
  writeChaosOutputs(report, o, root);
  if (smallHome !== undefined) unmountSmallHome(smallHome);
  smallHome = undefined;
  await cgroups?.remove();
  cgroups = undefined;
  rmSync(home, { recursive: true, force: true });
  for (const c of checks) console.log(`${verdictWord(c)}  ${c.name}: ${c.detail}`);
  console.log(
    `chaos: ${report.ok ? 'PASSED' : 'FAILED'} in ${(report.wallMs / 1000).toFixed(0)} s; replay with: ${o.replay}`,
  );
  return report.ok ? 0 : 1;
}

/**
 * After the host's kill -9 its workers exit on their own (parent-death signal, stdin EOF). Waits
 * until the set of run A's processes stops changing (bounded); what is left is the orphans.
 */
/** The tool-escape faults' processes (escapeDir's files) that are still alive. */
function survivingEscapees(dir: string): { total: number; survivors: ProcKey[] } {
  const all: ProcKey[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      for (const [pid, startTime] of JSON.parse(readFileSync(join(dir, f), 'utf8')) as [number, number][])
        all.push({ pid, startTime, cmd: 'sleep 3600 (tool-escape)' });
    } catch {
      // a file cut by the host's kill -9 mid-write cannot be: it is written under .tmp and renamed
    }
  }
  return { total: all.length, survivors: all.filter((p) => isProcessAlive(p.pid, p.startTime)) };
}

async function settleOrphans(runId: string): Promise<FoundProcess[]> {
  const deadline = performance.now() + CHAOS_DEFAULTS.orphanSettleMs;
  let last = '';
  let stableSince = performance.now();
  let found: FoundProcess[] = [];
  for (let i = 0; i < 1000 && performance.now() < deadline; i++) {
    found = processesOfRuns([runId]);
    const key = found
      .map((p) => p.pid)
      .sort()
      .join(',');
    if (key !== last) {
      last = key;
      stableSince = performance.now();
    } else if (performance.now() - stableSince >= 1500) break;
    await sleep(100);
  }
  return found;
}

/** The harness failed: kill what it started (by pid), so that nothing outlives it. */
async function cleanUp(): Promise<void> {
  for (const s of spawned)
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  await Promise.all(spawned.map((s) => s.exited));
  if (smallHome !== undefined) unmountSmallHome(smallHome);
  await cgroups?.remove();
  tracker.stop();
  const left = tracker.survivors();
  if (left.length > 0) {
    console.error(
      `chaos: killing ${left.length} processes the failed run left: ${left.map((p) => p.pid).join(', ')}`,
    );
    await killProcesses(left);
  }
}

runHarness(
  'chaos',
  'pnpm chaos [--duration 120s] [--seed N] [--json path] [--fuzz-scale X] [--callers N] [--no-docs]',
  main,
  cleanUp,
);

/** /dev/shm segments named after one of `runIds` (grpc-bridge src/shm/segments.ts). */
function leftoverSegments(runIds: readonly string[]): string[] {
  let names: string[];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return [];
  }
  return names.filter((n) => runIds.some((id) => n.startsWith(`trellis-shm.${id}.`)));
}
