/**
 * The matching rule between faults injected and exits and restarts seen (docs/reliability.md):
 *
 * For every run and every group (a pool, or a supervised child id):
 *   F = the distinct targets hit by an `effective` fatal fault;
 *   E = the targets that exited abnormally.
 *   1. every exit is explained: E ⊆ F (an exit nobody caused is a failure: a spurious heartbeat
 *      kill, a crash of the framework, a restart storm);
 *   2. every effective fatal fault shows: F ⊆ E, for the faults whose manifest time ended inside the
 *      run's observation window (a fault still pending when its host was killed is `cut`);
 *   3. each exit carries a code one of the faults that reached that target predicts (ERR_WORKER_EXITED
 *      for a SIGKILL, ERR_HEARTBEAT_MISSED for a long SIGSTOP, ERR_THREAD_OUT_OF_MEMORY for OOM, ...),
 *      a fault that landed on it while it was already doomed included (a SIGKILL of a stopped worker);
 *   4. one restart per exit: restarts = |E|, less the exits too recent to have been restarted
 *      before the window closed (only possible in a killed run);
 *   5. recycles (the bridge replacing a worker past its maxRssMb, or wedged by a tool that ignores
 *      cancellation: not an exit, not a restart): every recycle is explained by a leak or stuck-tool
 *      fault on that worker, and every effective one was followed by its recycle. A recycled target
 *      also excuses rule 2 (it left another way).
 * Faults that landed on an already-doomed or already-dead target are counted apart and expect
 * nothing. A fault with status `unexpected` is a failure by itself.
 */
import {
  type ExitRecord,
  type FaultRecord,
  manifestMs,
  RESTART_MANIFEST_MS,
  type RecycleRecord,
  type RestartRecord,
} from './fault-book.js';

export interface GroupVerdict {
  readonly run: string;
  readonly group: string;
  readonly effectiveFaults: number;
  readonly targets: number;
  readonly exits: number;
  readonly restarts: number;
  readonly restartsExpectedMin: number;
  readonly unexplained: readonly ExitRecord[];
  readonly missing: readonly FaultRecord[];
  /** Faults still within their manifest time when the window closed (killed run only). */
  readonly cut: number;
  readonly codeMismatch: readonly { exit: ExitRecord; expected: readonly string[] }[];
  readonly recycles: number;
  /** Recycles no leak fault explains. */
  readonly unexplainedRecycles: readonly RecycleRecord[];
  /** Effective leak faults whose recycle was never seen. */
  readonly missingRecycles: readonly FaultRecord[];
  readonly ok: boolean;
}

export interface MatchInput {
  readonly faults: readonly FaultRecord[];
  readonly exits: readonly ExitRecord[];
  readonly restarts: readonly RestartRecord[];
  readonly recycles?: readonly RecycleRecord[];
  /** Per run: the end of its observation window (run offset, ms); Infinity when it was settled. */
  readonly windowEnd: Readonly<Record<string, number>>;
}

export interface MatchResult {
  readonly groups: readonly GroupVerdict[];
  readonly unexpectedFaults: readonly FaultRecord[];
  readonly ok: boolean;
}

/** Faults whose expected effect is a recycle of their worker by the bridge, not an exit. */
const RECYCLE_KINDS: ReadonlySet<string> = new Set(['tool-leak', 'tool-hang-stuck']);

export function matchFaults(input: MatchInput): MatchResult {
  const keys = new Set<string>();
  const key = (run: string, group: string) => `${run}\u0000${group}`;
  for (const f of input.faults)
    if ((f.fatal || RECYCLE_KINDS.has(f.kind)) && (f.status === 'effective' || f.status === 'pending'))
      keys.add(key(f.run, f.group));
  for (const e of input.exits) keys.add(key(e.run, e.group));
  for (const r of input.restarts) keys.add(key(r.run, r.group));
  const allRecycles = input.recycles ?? [];
  for (const r of allRecycles) keys.add(key(r.run, r.group));
  const groups: GroupVerdict[] = [];
  for (const k of [...keys].sort()) {
    const [run, group] = k.split('\u0000') as [string, string];
    const end = input.windowEnd[run] ?? Number.POSITIVE_INFINITY;
    // A pending fault (its host was killed before it finished landing) explains an exit of its
    // target but is never required to show one: its fate is unknown, so it counts as cut.
    const faults = input.faults.filter(
      (f) =>
        f.run === run && f.group === group && f.fatal && (f.status === 'effective' || f.status === 'pending'),
    );
    const exits = input.exits.filter((e) => e.run === run && e.group === group);
    const restarts = input.restarts.filter((r) => r.run === run && r.group === group).length;
    const byTarget = new Map<string, FaultRecord[]>();
    for (const f of faults) {
      const list = byTarget.get(f.target!);
      if (list) list.push(f);
      else byTarget.set(f.target!, [f]);
    }
    const exitedTargets = new Set(exits.map((e) => e.target));
    const unexplained = exits.filter((e) => !byTarget.has(e.target));
    const missing: FaultRecord[] = [];
    let cut = 0;
    const recycles = allRecycles.filter((r) => r.run === run && r.group === group);
    const recycled = new Set(recycles.map((r) => r.target));
    for (const [target, list] of byTarget) {
      if (exitedTargets.has(target) || recycled.has(target)) continue;
      const landed = list.filter((f) => f.status !== 'pending');
      if (landed.length === 0) {
        cut++;
        continue;
      }
      const first = landed.reduce((a, b) => (a.atMs <= b.atMs ? a : b));
      if (first.atMs + manifestMs(first.kind) <= end) missing.push(first);
      else cut++;
    }
    // The codes an exit may carry: those of every fault that reached the target, including one
    // that landed on it while it was already doomed (a SIGKILL of a stopped worker ends it first).
    const reached = input.faults.filter(
      (f) => f.run === run && f.group === group && f.target !== undefined && f.status === 'absorbed-doomed',
    );
    const codeMismatch = exits
      .filter((e) => byTarget.has(e.target))
      .map((e) => {
        const all = [...byTarget.get(e.target)!, ...reached.filter((f) => f.target === e.target)];
        return { exit: e, expected: [...new Set(all.flatMap((f) => f.expect))] };
      })
      .filter((m) => !m.expected.includes(m.exit.code));
    const restartsExpectedMin = exits.filter((e) => e.atMs + RESTART_MANIFEST_MS <= end).length;
    const leaks = input.faults.filter(
      (f) =>
        f.run === run &&
        f.group === group &&
        RECYCLE_KINDS.has(f.kind) &&
        (f.status === 'effective' || f.status === 'pending'),
    );
    const leakTargets = new Set(leaks.map((f) => f.target));
    const unexplainedRecycles = recycles.filter((r) => !leakTargets.has(r.target));
    const missingRecycles = leaks.filter((f) => f.status === 'effective' && !recycled.has(f.target!));
    const restartsOk = Number.isFinite(end)
      ? restarts >= restartsExpectedMin && restarts <= exits.length
      : restarts === exits.length;
    groups.push({
      run,
      group,
      effectiveFaults: faults.length,
      targets: byTarget.size,
      exits: exits.length,
      restarts,
      restartsExpectedMin: Number.isFinite(end) ? restartsExpectedMin : exits.length,
      unexplained,
      missing,
      cut,
      codeMismatch,
      recycles: recycles.length,
      unexplainedRecycles,
      missingRecycles,
      ok:
        unexplained.length === 0 &&
        missing.length === 0 &&
        codeMismatch.length === 0 &&
        restartsOk &&
        unexplainedRecycles.length === 0 &&
        missingRecycles.length === 0,
    });
  }
  const unexpectedFaults = input.faults.filter((f) => f.status === 'unexpected');
  return { groups, unexpectedFaults, ok: unexpectedFaults.length === 0 && groups.every((g) => g.ok) };
}
