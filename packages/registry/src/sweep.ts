/**
 * The sweep: find runs whose host is dead and reap what they left behind, never touching a process
 * that is not provably theirs. The rules (issue 3):
 *
 * - a run's host is alive when a process with the recorded PID AND start time exists (zombies count as
 *   dead), so a reused host PID does not keep a dead run "alive"; runs with a live host are untouched;
 * - a run recorded under another boot id belongs to a previous boot: all its processes died with the
 *   machine, its records are dropped and nothing is signalled; a run recorded under another host name
 *   or PID namespace is foreign (its PIDs mean nothing here) and is left alone;
 * - a recorded child of a dead run is terminated with its whole process group only if it is alive,
 *   its start time matches AND its command line carries the run's marker; otherwise its PID now names
 *   another process (record dropped, process untouched) or it is gone (record dropped);
 * - a reservation without a PID, and any descendant that escaped its group, is found by scanning
 *   `/proc` for the dead run's id (marker argument or `TRELLIS_RUN_ID` in the environment).
 */
import { type Clock, isProcessAlive, readPidNamespace } from '@trellis/core';
import { type HostIdentity, judgeRun, parseRunId, type RunVerdict } from '@trellis/home';
import { match } from 'ts-pattern';
import type { RegistryLogger } from './logger.js';
import { carriesMarker, type MarkedProcess, type ProcSnapshot, snapshotProcesses } from './proc-scan.js';
import type { ChildRecord, RunRecord } from './records.js';
import { type SweepReport, type SweptProcess, summarize } from './report.js';
import { sweepSharedMemory } from './shm-sweep.js';
import { sweepSocketFiles } from './socket-sweep.js';
import type { RegistryStore } from './store.js';
import { type KillTarget, terminate } from './terminate.js';

/**
 * Whether any run recorded in the registry, other than `ownRunId`, is dead or from a previous boot:
 * the cheap question the peer watch asks every tick (one range read, one /proc read per run).
 */
export function anyDeadRun(store: RegistryStore, here: HostIdentity, ownRunId: string): boolean {
  store.refresh();
  for (const run of store.listRuns()) {
    if (run.runId === ownRunId) continue;
    const verdict = judgeRun(run.runId, run, here);
    if (verdict === 'dead' || verdict === 'rebooted') return true;
  }
  return false;
}

/** Which marker carriers outside the registry's dead runs a sweep may also reap. */
export type MarkerScope = 'runs' | 'home' | 'any';

export interface SweepOptions {
  /** Report only: signal nothing, remove nothing. */
  readonly dryRun?: boolean;
  /** Grace period between SIGTERM and SIGKILL. */
  readonly graceMs?: number;
  /**
   * `runs` (default): only processes carrying the id of a dead run recorded in this registry.
   * `home`: also any process whose run id carries this registry's home tag and whose host is dead
   * (used after a bad file was moved aside, when the records are lost). `any`: any Trellis run on
   * this machine whose host is dead, whatever registry it used.
   */
  readonly scanMarkers?: MarkerScope;
}

export interface SweepContext {
  readonly store: RegistryStore;
  readonly here: HostIdentity;
  /** The run of the registry doing the sweep: alive by definition. */
  readonly ownRunId?: string | undefined;
  readonly logger: RegistryLogger;
  readonly clock: Clock;
  readonly graceMs: number;
  readonly killTimeoutMs: number;
  readonly pollMs: number;
}

/** Kill decisions for one sweep or stop, accumulated over runs and over the marker scan. */
export class KillPlan {
  readonly targets: KillTarget[] = [];
  readonly droppedDead: SweptProcess[] = [];
  readonly droppedReused: SweptProcess[] = [];
  readonly reservations: SweptProcess[] = [];
  /** Marker carriers from another PID namespace, seen by the scan and left alone. */
  readonly skippedForeign: SweptProcess[] = [];
  readonly coveredGroups = new Set<number>();
  readonly coveredPids = new Set<number>();

  /** Classifies recorded children (of a dead run, or of our own run when stopping). */
  addChildren(children: readonly ChildRecord[], snap: ProcSnapshot): void {
    for (const c of children) {
      const subject = subjectOf(c);
      if (c.state === 'reserved' || c.pid === undefined || c.startTime === undefined) {
        this.reservations.push(subject);
        continue;
      }
      const st = snap.live.get(c.pid);
      if (!st) this.droppedDead.push(subject);
      else if (st.startTime !== c.startTime || !carriesMarker(c.pid, c.marker))
        this.droppedReused.push(subject);
      else if (st.pgid === c.pid && c.pgid === c.pid) this.#addGroup(c.pid, st.startTime, subject);
      else this.#addProcess(c.pid, st.startTime, subject);
    }
  }

  /** Adds marker carriers; group leaders first, so members of a group already covered are skipped. */
  addMarked(marked: readonly MarkedProcess[]): void {
    const leadersFirst = [...marked].sort(
      (a, b) => Number(b.stat.pid === b.stat.pgid) - Number(a.stat.pid === a.stat.pgid),
    );
    for (const m of leadersFirst) {
      const { pid, pgid, startTime } = m.stat;
      if (this.coveredGroups.has(pgid) || this.coveredPids.has(pid)) continue;
      const subject: SweptProcess = { runId: runIdOf(m), source: 'marker', pid, pgid };
      if (pid === pgid) this.#addGroup(pid, startTime, subject);
      else this.#addProcess(pid, startTime, subject);
    }
  }

  #addGroup(pgid: number, leaderStart: number, subject: SweptProcess): void {
    if (this.coveredGroups.has(pgid)) return;
    this.coveredGroups.add(pgid);
    this.coveredPids.add(pgid);
    this.targets.push({ kind: 'group', pgid, leaderStart, subject });
  }

  #addProcess(pid: number, startTime: number, subject: SweptProcess): void {
    if (this.coveredPids.has(pid)) return;
    this.coveredPids.add(pid);
    this.targets.push({ kind: 'process', pid, startTime, subject });
  }
}

/** The run a marked process belongs to: its own marker argument first, else its inherited environment. */
export function runIdOf(m: MarkedProcess): string {
  return (m.cmdRunId ?? m.envRunId)!;
}

/** The registry's contents for one sweep: run records and child records grouped by run. */
export interface RegistryContents {
  readonly runs: ReadonlyMap<string, RunRecord>;
  readonly childrenByRun: ReadonlyMap<string, readonly ChildRecord[]>;
}

/** Step 0: read the registry (a fresh snapshot, so other processes' commits are seen). */
export function readContents(store: RegistryStore): RegistryContents {
  store.refresh();
  const runs = new Map(store.listRuns().map((r) => [r.runId, r]));
  const childrenByRun = new Map<string, ChildRecord[]>();
  for (const c of store.listChildren()) {
    const list = childrenByRun.get(c.runId);
    if (list) list.push(c);
    else childrenByRun.set(c.runId, [c]);
  }
  return { runs, childrenByRun };
}

/** No registry to read (it cannot be opened): only the marker scan can find anything. */
export const NO_CONTENTS: RegistryContents = { runs: new Map(), childrenByRun: new Map() };

/** What step 1 decided about every run, before anything is signalled. */
export interface Judgement {
  readonly verdicts: Record<RunVerdict, string[]>;
  readonly skippedAlive: SweptProcess[];
  readonly skippedForeign: SweptProcess[];
  /** Children of runs from an earlier boot: records dropped, nothing signalled. */
  readonly rebootedDead: SweptProcess[];
  readonly deadRuns: ReadonlySet<string>;
  /** Records to remove once the kills are done (survivors excepted). */
  readonly removeChildren: string[];
  readonly removeRuns: string[];
}

/** Step 1: judge every run that has a record or a child record. */
export function judgeRuns(contents: RegistryContents, here: HostIdentity, ownRunId?: string): Judgement {
  const j: Judgement = {
    verdicts: { dead: [], alive: [], rebooted: [], foreign: [] },
    skippedAlive: [],
    skippedForeign: [],
    rebootedDead: [],
    deadRuns: new Set<string>(),
    removeChildren: [],
    removeRuns: [],
  };
  const dead = j.deadRuns as Set<string>;
  for (const runId of new Set([...contents.runs.keys(), ...contents.childrenByRun.keys()])) {
    const children = contents.childrenByRun.get(runId) ?? [];
    const verdict = runId === ownRunId ? 'alive' : judgeRun(runId, contents.runs.get(runId), here);
    j.verdicts[verdict].push(runId);
    match(verdict)
      .with('alive', () => j.skippedAlive.push(...children.map(subjectOf)))
      .with('foreign', () => j.skippedForeign.push(...children.map(subjectOf)))
      .with('rebooted', () => {
        j.rebootedDead.push(...children.map(subjectOf));
        j.removeChildren.push(...children.map((c) => c.reservationId));
        j.removeRuns.push(runId);
      })
      .with('dead', () => {
        dead.add(runId);
        j.removeChildren.push(...children.map((c) => c.reservationId));
        j.removeRuns.push(runId);
      })
      .exhaustive();
  }
  return j;
}

/** Step 2: decide what to signal: the dead runs' recorded children, then the marker carriers in scope. */
export function planKills(
  contents: RegistryContents,
  judgement: Judgement,
  scope: MarkerScope,
  here: HostIdentity,
  ownRunId?: string,
): KillPlan {
  const plan = new KillPlan();
  plan.droppedDead.push(...judgement.rebootedDead);
  if (judgement.deadRuns.size === 0 && scope === 'runs') return plan;
  const snap = snapshotProcesses(true);
  for (const runId of judgement.deadRuns) plan.addChildren(contents.childrenByRun.get(runId) ?? [], snap);
  const liveRuns = new Set([...judgement.verdicts.alive, ...judgement.verdicts.foreign]);
  const inScope = (m: MarkedProcess): boolean => {
    const runId = runIdOf(m);
    if (runId === ownRunId || liveRuns.has(runId)) return false;
    if (!judgement.deadRuns.has(runId)) {
      if (scope === 'runs') return false;
      const parts = parseRunId(runId);
      if (!parts || (scope === 'home' && parts.homeTag !== here.homeTag)) return false;
      if (isProcessAlive(parts.hostPid, parts.hostStartTime)) return false;
    }
    // A process from another PID namespace names its host by a PID we cannot interpret.
    if (readPidNamespace(m.stat.pid) !== here.pidNamespace) {
      plan.skippedForeign.push({ runId, source: 'marker', pid: m.stat.pid, pgid: m.stat.pgid });
      return false;
    }
    return true;
  };
  plan.addMarked(snap.marked.filter(inScope));
  return plan;
}

/** What step 3 did. */
export interface KillOutcome {
  readonly forced: readonly KillTarget[];
  readonly survivors: readonly KillTarget[];
}

/** Step 3: signal the plan (nothing on a dry run). */
export async function executeKills(
  plan: KillPlan,
  ctx: Omit<SweepContext, 'store'>,
  options: SweepOptions,
): Promise<KillOutcome> {
  if (options.dryRun === true) return { forced: [], survivors: [] };
  return terminate(plan.targets, {
    graceMs: options.graceMs ?? ctx.graceMs,
    killTimeoutMs: ctx.killTimeoutMs,
    pollMs: ctx.pollMs,
    clock: ctx.clock,
  });
}

/** Step 4: forget what was resolved. A survivor keeps its record (and its run's), so a later sweep retries. */
export function forgetResolved(store: RegistryStore, judgement: Judgement, outcome: KillOutcome): void {
  const keep = new Set(
    outcome.survivors.map((t) => t.subject.reservationId).filter((id) => id !== undefined),
  );
  const keepRuns = new Set(outcome.survivors.map((t) => t.subject.runId));
  store.removeMany(
    judgement.removeChildren.filter((id) => !keep.has(id)),
    judgement.removeRuns.filter((id) => !keepRuns.has(id)),
  );
}

/** Step 5: the report. */
export function reportSweep(
  dryRun: boolean,
  judgement: Judgement,
  plan: KillPlan,
  outcome: KillOutcome,
  startedAt: number,
): SweepReport {
  return {
    dryRun,
    runs: judgement.verdicts,
    killed: plan.targets.map((t) => t.subject),
    forced: outcome.forced.map((t) => t.subject),
    droppedReused: plan.droppedReused,
    droppedDead: plan.droppedDead,
    resolvedReservations: plan.reservations,
    skippedAlive: judgement.skippedAlive,
    skippedForeign: [...judgement.skippedForeign, ...plan.skippedForeign],
    survivors: outcome.survivors.map((t) => t.subject),
    durationMs: performance.now() - startedAt,
  };
}

/** The sweep, as the steps above chained: read → judge → plan → execute → forget → report. */
export async function sweepRegistry(ctx: SweepContext, options: SweepOptions = {}): Promise<SweepReport> {
  const startedAt = performance.now();
  const dryRun = options.dryRun === true;
  const contents = readContents(ctx.store);
  const judgement = judgeRuns(contents, ctx.here, ctx.ownRunId);
  const plan = planKills(contents, judgement, options.scanMarkers ?? 'runs', ctx.here, ctx.ownRunId);
  const outcome = await executeKills(plan, ctx, options);
  if (!dryRun) forgetResolved(ctx.store, judgement, outcome);
  // Their sockets too: a worker that had to be SIGKILLed could not remove its own (socket-sweep.ts).
  if (!dryRun) {
    const alive = new Set(outcome.survivors.map((t) => t.subject.pid));
    const gone = [...judgement.deadRuns]
      .flatMap((r) => contents.childrenByRun.get(r) ?? [])
      .filter((c) => c.pid === undefined || !alive.has(c.pid));
    logSockets(ctx.logger, sweepSocketFiles(gone));
  }
  // Dead runs' shared-memory segments go too (their processes, which might map them, are gone now).
  if (!dryRun) logShm(ctx.logger, sweepSharedMemory(ctx.here, ctx.ownRunId));
  const report = reportSweep(dryRun, judgement, plan, outcome, startedAt);
  logReport(ctx.logger, report);
  return report;
}

/**
 * The sweep without a registry file (it cannot be opened: read-only directory, full disk). Reaping by
 * the run marker in `/proc` needs no writable registry: every process carrying a run id of this home
 * whose host is dead is terminated, as in the `home` scope. Live runs are recognised by their run id
 * alone (its host PID and start time), so they are left alone exactly as with the file.
 */
export async function sweepWithoutRegistry(
  ctx: Omit<SweepContext, 'store'>,
  options: Omit<SweepOptions, 'scanMarkers'> = {},
): Promise<SweepReport> {
  const startedAt = performance.now();
  const judgement = judgeRuns(NO_CONTENTS, ctx.here, ctx.ownRunId);
  const plan = planKills(NO_CONTENTS, judgement, 'home', ctx.here, ctx.ownRunId);
  const outcome = await executeKills(plan, ctx, options);
  if (options.dryRun !== true) logShm(ctx.logger, sweepSharedMemory(ctx.here, ctx.ownRunId));
  const report = reportSweep(options.dryRun === true, judgement, plan, outcome, startedAt);
  logReport(ctx.logger, report);
  return report;
}

function logReport(logger: RegistryLogger, r: SweepReport): void {
  const acted =
    r.killed.length +
    r.droppedDead.length +
    r.droppedReused.length +
    r.resolvedReservations.length +
    r.survivors.length;
  if (acted === 0) return;
  const line = `trellis registry sweep${r.dryRun ? ' (dry run)' : ''}: ${summarize(r)}`;
  const data = { report: r as unknown as Record<string, unknown> };
  if (r.survivors.length > 0) logger.warn(line, data);
  else logger.info(line, data);
}

export function subjectOf(c: ChildRecord): SweptProcess {
  return {
    runId: c.runId,
    source: 'record',
    reservationId: c.reservationId,
    pid: c.pid,
    pgid: c.pgid,
    role: c.role,
    name: c.name,
  };
}

function logSockets(logger: RegistryLogger, removed: readonly string[]): void {
  if (removed.length > 0)
    logger.info(`sweep: removed ${removed.length} socket file(s) and folder(s) of dead runs' workers`);
}

function logShm(logger: RegistryLogger, removed: readonly string[]): void {
  if (removed.length > 0)
    logger.info(`sweep: removed ${removed.length} shared-memory segment(s) of dead runs from /dev/shm`);
}
