/**
 * Terminating process groups and single processes we have identified: SIGTERM, wait out the grace
 * period, SIGKILL, and confirm in `/proc` that they are gone.
 *
 * Identity is re-checked before every signal, because between deciding and signalling a process can
 * exit and its PID be reused:
 * - a group is signalled as a whole (`kill(-pgid)`) only while its leader is alive with the recorded
 *   start time, since a live leader pins the group id. Once the leader is gone the group id stays
 *   reserved only while members remain, so members are signalled one by one, and only those that
 *   started no earlier than the leader (a reused group id would be led by a newer process whose
 *   members we do not know; the pid_max wrap this needs within one grace period is not a practical
 *   case, and the start-time filter narrows it further);
 * - a single process is signalled only while its start time matches.
 * The remaining window (the check and `kill()` are two system calls) is microseconds, against a PID
 * reuse cycle of at least tens of thousands of process creations.
 */
import { type Clock, isExitedState, type ProcStat, readProcStat } from '@trellis/core';
import { type ProcSnapshot, snapshotProcesses } from './proc-scan.js';
import type { SweptProcess } from './report.js';

export type KillTarget =
  | {
      readonly kind: 'group';
      /** Group id = PID of the leader. */
      readonly pgid: number;
      readonly leaderStart: number;
      readonly subject: SweptProcess;
    }
  | {
      readonly kind: 'process';
      readonly pid: number;
      readonly startTime: number;
      readonly subject: SweptProcess;
    };

export interface TerminateOptions {
  readonly graceMs: number;
  readonly killTimeoutMs: number;
  readonly pollMs: number;
  readonly clock: Clock;
}

export interface TerminateResult {
  /** Targets still present after the grace period, which got SIGKILL. */
  readonly forced: readonly KillTarget[];
  /** Targets still present after SIGKILL and the kill time-out. */
  readonly survivors: readonly KillTarget[];
}

export async function terminate(
  targets: readonly KillTarget[],
  options: TerminateOptions,
): Promise<TerminateResult> {
  if (targets.length === 0) return { forced: [], survivors: [] };
  for (const t of targets) signal(t, 'SIGTERM');
  const forced = await waitGone(targets, options.graceMs, options);
  if (forced.length === 0) return { forced, survivors: [] };
  const snap = snapshotProcesses(false);
  for (const t of forced) signal(t, 'SIGKILL', snap);
  const survivors = await waitGone(forced, options.killTimeoutMs, options);
  return { forced, survivors };
}

/** Whether any process of the target is still alive in the snapshot. */
export function isPresent(t: KillTarget, snap: ProcSnapshot): boolean {
  if (t.kind === 'process') return snap.live.get(t.pid)?.startTime === t.startTime;
  for (const st of snap.live.values()) if (st.pgid === t.pgid && st.startTime >= t.leaderStart) return true;
  return false;
}

function signal(t: KillTarget, sig: NodeJS.Signals, snap?: ProcSnapshot): void {
  if (t.kind === 'process') {
    const st = snap ? snap.live.get(t.pid) : readProcStat(t.pid);
    if (st && !isExitedState(st.state) && st.startTime === t.startTime) send(t.pid, sig);
    return;
  }
  const leader = readProcStat(t.pgid);
  if (
    leader &&
    !isExitedState(leader.state) &&
    leader.startTime === t.leaderStart &&
    leader.pgid === t.pgid
  ) {
    send(-t.pgid, sig);
    return;
  }
  const view = snap ?? snapshotProcesses(false);
  for (const st of view.live.values()) if (isMember(st, t.pgid, t.leaderStart)) send(st.pid, sig);
}

function isMember(st: ProcStat, pgid: number, leaderStart: number): boolean {
  return st.pgid === pgid && st.startTime >= leaderStart && !isExitedState(st.state);
}

function send(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone, which is the goal. EPERM: not ours to signal; it stays a survivor.
  }
}

/** Polls `/proc` until every target is gone or `timeoutMs` passes; returns those still present. */
async function waitGone(
  targets: readonly KillTarget[],
  timeoutMs: number,
  o: TerminateOptions,
): Promise<KillTarget[]> {
  const deadline = o.clock.now() + timeoutMs;
  const maxRounds = Math.ceil(timeoutMs / Math.max(1, o.pollMs)) + 2;
  let remaining = [...targets];
  for (let round = 0; round <= maxRounds; round++) {
    const snap = snapshotProcesses(false);
    remaining = remaining.filter((t) => isPresent(t, snap));
    const left = deadline - o.clock.now();
    if (remaining.length === 0 || left <= 0) break;
    await new Promise<void>((r) => o.clock.setTimeout(r, Math.min(o.pollMs, left)));
  }
  return remaining;
}
