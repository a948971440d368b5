/**
 * Orphan detection in /proc, two independent ways:
 *
 *   by marker      any live process whose command line carries `--trellis-run-id=<run>` or whose
 *                  environment has `TRELLIS_RUN_ID=<run>` for one of the runs of this suite (the
 *                  registry's own identification: it finds children, and descendants that left
 *                  their process group but kept the environment);
 *   by descendant  the driver samples its whole descendant tree while the suite runs (pid, start
 *                  time, command line of every process ever seen below it). A process re-parented to
 *                  init after its host was killed is no longer a descendant, but it was one when
 *                  sampled, so at the end every (pid, start time) ever seen must be gone.
 *
 * A process is identified by pid AND start time, so a reused pid is never mistaken for an orphan
 * (and never signalled by `killOrphans`).
 */
import {
  isExitedState,
  listProcessIds,
  RUN_ID_ENV,
  readProcCmdline,
  readProcEnvironValue,
  readProcStat,
} from '@trellis/core';

export interface ProcKey {
  readonly pid: number;
  readonly startTime: number;
  /** The command line when first seen (for the report). */
  readonly cmd: string;
}

export interface FoundProcess extends ProcKey {
  /** `marker` (command line), `env` (TRELLIS_RUN_ID) or `descendant` (seen under the driver). */
  readonly how: 'marker' | 'env' | 'descendant';
  readonly run?: string | undefined;
  /** Process group when found (a sweep kills groups: a member dies with its leader's entry). */
  readonly pgid?: number | undefined;
}

interface Row {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly startTime: number;
}

function liveRows(): Row[] {
  const out: Row[] = [];
  for (const pid of listProcessIds()) {
    const st = readProcStat(pid);
    if (st === undefined || isExitedState(st.state)) continue;
    out.push({ pid, ppid: st.ppid, pgid: st.pgid, startTime: st.startTime });
  }
  return out;
}

function cmdOf(pid: number): string {
  return (readProcCmdline(pid) ?? []).join(' ').slice(0, 200);
}

/** Live descendants of `root` right now (children, their children, ...). */
export function descendantsOf(root: number): ProcKey[] {
  const rows = liveRows();
  const children = new Map<number, Row[]>();
  for (const r of rows) {
    const list = children.get(r.ppid);
    if (list) list.push(r);
    else children.set(r.ppid, [r]);
  }
  const out: ProcKey[] = [];
  const stack = [root];
  // Bounded by the number of live processes: each is pushed at most once (a pid has one parent).
  for (let guard = 0; stack.length > 0 && guard <= rows.length; guard++) {
    const p = stack.pop()!;
    for (const c of children.get(p) ?? []) {
      out.push({ pid: c.pid, startTime: c.startTime, cmd: cmdOf(c.pid) });
      stack.push(c.pid);
    }
  }
  return out;
}

/** Remembers every process ever seen below `root`; `survivors()` lists those still alive. */
export class DescendantTracker {
  readonly #root: number;
  readonly #seen = new Map<string, ProcKey>();
  #timer: NodeJS.Timeout | undefined;

  constructor(root: number = process.pid) {
    this.#root = root;
  }

  sample(): void {
    for (const k of descendantsOf(this.#root)) {
      const key = `${k.pid}/${k.startTime}`;
      if (!this.#seen.has(key)) this.#seen.set(key, k);
    }
  }

  /** Samples every `ms` until stop(); the timer does not keep the process alive. */
  start(ms: number): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), ms);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.sample();
  }

  get count(): number {
    return this.#seen.size;
  }

  /** Processes seen at some point that are still alive (same pid AND start time). */
  survivors(exclude: ReadonlySet<number> = new Set()): FoundProcess[] {
    const out: FoundProcess[] = [];
    for (const k of this.#seen.values()) {
      if (exclude.has(k.pid)) continue;
      const st = readProcStat(k.pid);
      if (st && !isExitedState(st.state) && st.startTime === k.startTime)
        out.push({ ...k, how: 'descendant' });
    }
    return out;
  }
}

/** Live processes carrying one of `runIds` on their command line or in TRELLIS_RUN_ID. */
export function processesOfRuns(
  runIds: readonly string[],
  extraMarkers: readonly string[] = [],
): FoundProcess[] {
  if (runIds.length === 0 && extraMarkers.length === 0) return [];
  const markers = [...runIds.map((r) => `--trellis-run-id=${r}`), ...extraMarkers];
  const ids = new Set(runIds);
  const out: FoundProcess[] = [];
  for (const r of liveRows()) {
    if (r.pid === process.pid) continue;
    const argv = readProcCmdline(r.pid) ?? [];
    const byArg = markers.find((m) => argv.includes(m));
    if (byArg !== undefined) {
      out.push({
        pid: r.pid,
        startTime: r.startTime,
        pgid: r.pgid,
        cmd: argv.join(' ').slice(0, 200),
        how: 'marker',
        run: byArg,
      });
      continue;
    }
    const env = ids.size > 0 ? readProcEnvironValue(r.pid, RUN_ID_ENV) : undefined;
    if (env !== undefined && ids.has(env))
      out.push({
        pid: r.pid,
        startTime: r.startTime,
        pgid: r.pgid,
        cmd: argv.join(' ').slice(0, 200),
        how: 'env',
        run: env,
      });
  }
  return out;
}

export interface OrphanReport {
  readonly byMarker: readonly FoundProcess[];
  readonly byDescendant: readonly FoundProcess[];
  /** Distinct processes found either way. */
  readonly total: number;
}

export function findOrphans(o: {
  runIds: readonly string[];
  markers?: readonly string[];
  tracker?: DescendantTracker;
  exclude?: ReadonlySet<number>;
}): OrphanReport {
  const exclude = o.exclude ?? new Set<number>();
  const byMarker = processesOfRuns(o.runIds, o.markers).filter((p) => !exclude.has(p.pid));
  const byDescendant = o.tracker?.survivors(exclude) ?? [];
  const keys = new Set([...byMarker, ...byDescendant].map((p) => `${p.pid}/${p.startTime}`));
  return { byMarker, byDescendant, total: keys.size };
}

/**
 * SIGKILLs the listed processes (only while pid and start time still match) and waits, bounded,
 * until they are gone. Returns those still alive after `maxMs`.
 */
export async function killProcesses(list: readonly ProcKey[], maxMs = 5000): Promise<ProcKey[]> {
  const alive = (k: ProcKey): boolean => {
    const st = readProcStat(k.pid);
    return st !== undefined && !isExitedState(st.state) && st.startTime === k.startTime;
  };
  for (const k of list) {
    if (!alive(k)) continue;
    try {
      process.kill(k.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const deadline = performance.now() + maxMs;
  let left = list.filter(alive);
  for (let i = 0; left.length > 0 && performance.now() < deadline && i < 1000; i++) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter(alive);
  }
  return left;
}
