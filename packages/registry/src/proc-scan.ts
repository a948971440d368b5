/**
 * One pass over `/proc`: every process's stat, and which processes carry a Trellis run id, either as
 * the marker argument on their command line (what the registry relies on) or as `TRELLIS_RUN_ID` in
 * their environment (inherited by descendants that left the child's process group or exec'd a
 * program without the marker).
 */
import {
  isExitedState,
  listProcessIds,
  type ProcStat,
  RUN_ID_ENV,
  readProcCmdline,
  readProcEnvironValue,
  readProcStat,
} from '@trellis/core';
import { runIdFromMarker } from '@trellis/home';

export interface MarkedProcess {
  readonly stat: ProcStat;
  /** Run id from a `--trellis-run-id=` argument. */
  readonly cmdRunId: string | undefined;
  /** Run id from the `TRELLIS_RUN_ID` environment variable. */
  readonly envRunId: string | undefined;
}

export interface ProcSnapshot {
  /** Live (non-zombie) processes by PID, this process excluded. */
  readonly live: ReadonlyMap<number, ProcStat>;
  /** Live processes carrying a run id (only when the snapshot was taken with `markers`). */
  readonly marked: readonly MarkedProcess[];
}

/** Reads `/proc` once. `markers` also reads every command line and environment (slower). */
export function snapshotProcesses(markers: boolean): ProcSnapshot {
  const live = new Map<number, ProcStat>();
  const marked: MarkedProcess[] = [];
  for (const pid of listProcessIds()) {
    if (pid === process.pid) continue;
    const stat = readProcStat(pid);
    if (!stat || isExitedState(stat.state)) continue;
    live.set(pid, stat);
    if (!markers) continue;
    let cmdRunId: string | undefined;
    for (const arg of readProcCmdline(pid) ?? []) {
      cmdRunId = runIdFromMarker(arg);
      if (cmdRunId !== undefined) break;
    }
    const envRunId = readProcEnvironValue(pid, RUN_ID_ENV);
    if (cmdRunId !== undefined || envRunId !== undefined) marked.push({ stat, cmdRunId, envRunId });
  }
  return { live, marked };
}

/** Whether `/proc/<pid>/cmdline` has `marker` as one whole argument. */
export function carriesMarker(pid: number, marker: string): boolean {
  return readProcCmdline(pid)?.includes(marker) ?? false;
}
