/**
 * What the system under test records about faults and their effects, as plain data (it crosses the
 * IPC channel to the driver and ends up in the JSON report):
 *
 *   FaultRecord    one injected fault: its kind, its target and how it landed
 *   ExitRecord     a supervised process exited abnormally (a Python worker, an actor, a pool)
 *   RestartRecord  a supervisor started a replacement
 *   RecycleRecord  the bridge replaced a worker gracefully (its maxRssMb limit)
 *
 * How a fault landed (`status`):
 *   effective        it hit a live target that had not been hit by a fatal fault yet
 *   absorbed-doomed  the target was already dying of an earlier fault (its exit is that fault's)
 *   absorbed-dead    the target was already gone (ESRCH, ERR_NOPROC, the pool was restarting)
 *   no-target        nothing of that kind was running when the fault fired
 *   non-fatal        a fault that must NOT end its target (short SIGSTOP, hangs, failing tasks), and did not
 *   pending          sent, its landing not known yet: only left over when its host was killed first
 *   unexpected       the fault did not do what it must (a crash call answered normally, a hang that
 *                    did not time out with ERR_DEADLINE_EXCEEDED, ...): a failure of the suite
 */
import { CHAOS_DEFAULTS } from './defaults.js';
import type { FaultKind } from './schedule.js';

export type FaultStatus =
  | 'pending'
  | 'effective'
  | 'absorbed-doomed'
  | 'absorbed-dead'
  | 'no-target'
  | 'non-fatal'
  | 'unexpected';

export interface FaultRecord {
  readonly index: number;
  readonly kind: FaultKind;
  readonly run: string;
  /** Run offset (ms since the suite started) when the fault fired. */
  readonly atMs: number;
  /** `pool-a`, `pool-b`, a child id (`chaos-thread-0`, ...), or `host`. */
  readonly group: string;
  /** OS pid of a worker, actor pid of an actor; undefined when there was no target. */
  readonly target: string | undefined;
  readonly status: FaultStatus;
  readonly fatal: boolean;
  /** Exit codes the target's exit may carry when this fault is what ended it. */
  readonly expect: readonly string[];
  readonly note?: string | undefined;
}

export interface ExitRecord {
  readonly run: string;
  readonly group: string;
  readonly target: string;
  readonly atMs: number;
  /** A TrellisError code (ERR_WORKER_EXITED, ERR_THREAD_EXIT, ...), `killed`, or `error:<message>`. */
  readonly code: string;
}

/** The bridge replaced a worker gracefully (maxRssMb): not an exit, not a restart. */
export interface RecycleRecord {
  readonly run: string;
  readonly group: string;
  /** The retired worker's pid. */
  readonly target: string;
  readonly atMs: number;
  /** `max_rss`, `ttl` or `max_calls`. */
  readonly reason: string;
}

export interface RestartRecord {
  readonly run: string;
  readonly group: string;
  readonly target: string;
  readonly atMs: number;
}

/** How long a fault may take to show its exit, by kind (the long SIGSTOP waits for heartbeats). */
export function manifestMs(kind: FaultKind): number {
  const m = CHAOS_DEFAULTS.manifestMs;
  switch (kind) {
    case 'worker-sigstop-long':
      return m.stopLong;
    case 'thread-oom':
      return m.oom;
    case 'tool-leak':
    case 'tool-leak-hard':
      return m.leak;
    default:
      return m.default;
  }
}

/** Time a restart may take after its exit (a Python worker boots in ~0.3-1 s on an idle box). */
export const RESTART_MANIFEST_MS = CHAOS_DEFAULTS.manifestMs.restart;

/** A reason as the exit code used to match exits with faults. */
export function exitCode(reason: { type: string; cause?: unknown }): string {
  if (reason.type !== 'error') return reason.type;
  const c = reason.cause as { code?: unknown; message?: unknown } | undefined;
  if (typeof c?.code === 'string') return c.code;
  return `error:${typeof c?.message === 'string' ? c.message : String(c)}`;
}
