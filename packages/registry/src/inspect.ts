/** Records as `trellis registry list` shows them: each with the live state of its process or host. */
import { isExitedState, readProcStat } from '@trellis/core';
import { type HostIdentity, judgeRun, type RunVerdict } from '@trellis/home';
import { carriesMarker } from './proc-scan.js';
import type { ChildRecord, RunRecord } from './records.js';

/**
 * `alive`: the recorded process is running (PID, start time and marker all match). `dead`: it has
 * exited (zombies included). `reused`: its PID now names another process. `reserved`: no PID yet.
 */
export type ChildStatus = 'alive' | 'dead' | 'reused' | 'reserved';

export interface ChildView extends ChildRecord {
  readonly status: ChildStatus;
}

export interface RunView extends RunRecord {
  /** State of the run's host process (see `judgeRun`). */
  readonly host: RunVerdict;
}

export function childStatus(c: ChildRecord): ChildStatus {
  if (c.state === 'reserved' || c.pid === undefined) return 'reserved';
  const st = readProcStat(c.pid);
  if (!st || isExitedState(st.state)) return 'dead';
  return st.startTime === c.startTime && carriesMarker(c.pid, c.marker) ? 'alive' : 'reused';
}

export function viewChild(c: ChildRecord): ChildView {
  return { ...c, status: childStatus(c) };
}

export function viewRun(r: RunRecord, here: HostIdentity, ownRunId?: string): RunView {
  return { ...r, host: r.runId === ownRunId ? 'alive' : judgeRun(r.runId, r, here) };
}
