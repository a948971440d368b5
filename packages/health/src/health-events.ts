/** What the health monitor tells its listeners and subscribers. */
import type { Pid } from '@trellis/core';
import type { HealthState, TransitionCause } from './health-state.js';

export type HealthEvent =
  /** A state change of one incarnation (`from` is null for a key seen for the first time). */
  | {
      readonly type: 'state';
      readonly key: string;
      readonly pid: Pid;
      readonly id: string | null;
      readonly supervisor: Pid | null;
      readonly from: HealthState | null;
      readonly to: HealthState;
      readonly cause: TransitionCause;
      /** Wall-clock ms when the transition took effect. */
      readonly at: number;
    }
  /** The stale policy acted: `target` got an untrappable kill; `error` when no target could be found. */
  | {
      readonly type: 'action';
      readonly key: string;
      readonly pid: Pid;
      readonly action: 'kill' | 'escalate';
      readonly target: Pid | null;
      readonly at: number;
      readonly error?: string;
    };

/** The message a subscribed process receives for every event. */
export interface HealthEventMessage {
  readonly type: '$health_event';
  readonly event: HealthEvent;
}

export type HealthListener = (e: HealthEvent) => void;

/** Restarts and last exit of one child, per supervisor and child id, from the supervisor events. */
export interface ChildStats {
  readonly supervisor: Pid;
  readonly supervisorName: string | null;
  readonly id: string;
  /** The running pid, null while it is down. */
  readonly pid: Pid | null;
  /** The supervisor's restart count for this child. */
  readonly restarts: number;
  /** Wall ms the current pid started. */
  readonly startedAt: number | null;
  readonly lastExitReason: string | null;
  readonly lastExitAt: number | null;
}
