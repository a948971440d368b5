/**
 * The heartbeat state machine of one monitored actor, as pure functions of a slot and the time.
 *
 *                 first beat               no beat for staleAfterMs
 *   initializing ───────────► active ─────────────────────────────► stale ──────────► failed
 *        │                      ▲                                      │  stale for
 *        │ no first beat for    └──────────── a beat (recovery) ───────┘  failAfterMs
 *        │ startupTimeoutMs
 *        └──────────────────────────────────────────────────────────► stale
 *
 *   any non-terminal state ── the actor exits abnormally (any reason but normal/shutdown) ──► failed
 *   any non-terminal state ── the actor exits with normal or shutdown ─────────────────────► stopped
 *
 * `failed` and `stopped` are terminal for that incarnation (that pid): a late beat is counted but does
 * not revive it. A new incarnation (the supervisor restarted the child, which registers its new pid
 * under the same key) starts again at `initializing`.
 *
 * Deadlines are exact: `stale` takes effect at lastBeat + staleAfterMs (or registeredAt +
 * startupTimeoutMs) and `failed` at staleSince + failAfterMs, whatever the scan granularity; the scan
 * only decides how soon after the deadline the monitor notices (at most one scan interval).
 */
import type { Pid } from '@trellis/core';
import { HEALTH_DEFAULTS } from './defaults.js';
import { InvalidHealthOptionsError } from './errors.js';

export type HealthState = 'initializing' | 'active' | 'stale' | 'failed' | 'stopped';

/** What the monitor does when an actor turns stale. */
export type StalePolicy = 'report' | 'kill' | 'escalate';

export type TransitionCause =
  /** registered: a new incarnation starts in `initializing`. */
  | 'registered'
  | 'first_heartbeat'
  | 'recovered'
  | 'missed_heartbeats'
  | 'startup_timeout'
  | 'stale_too_long'
  /** The actor's process exited (the reason is in lastExitReason). */
  | 'exited'
  /** The monitor stopped in order while the actor was still monitored. */
  | 'monitor_stopped'
  /** A restarted monitor took the record over from its previous incarnation. */
  | 'adopted';

export const POLICIES: readonly StalePolicy[] = ['report', 'kill', 'escalate'];

/** Per-actor options of `register` (and of `monitoredChild`). */
export interface ActorHealthOptions {
  /** Expected time between heartbeats (default 1000 ms). */
  readonly intervalMs?: number;
  /** An active actor turns stale after this long without a heartbeat (default 3 × intervalMs). */
  readonly staleAfterMs?: number;
  /** An actor with no first heartbeat this long after registration turns stale (default 10 s). */
  readonly startupTimeoutMs?: number;
  /** A stale actor turns failed after this long without recovering (default 3 × intervalMs). */
  readonly failAfterMs?: number;
  /** What to do when it turns stale (default `report`). */
  readonly policy?: StalePolicy;
  /** The record's key: stable across restarts (default: the child id, else the pid). */
  readonly key?: string;
  /** Child id in its supervisor, when supervised. */
  readonly id?: string;
  /** Its supervisor (the escalation target by default). */
  readonly supervisor?: Pid;
  /** Free label shown by readers: `actor`, `thread`, `python`, ... (default `actor`). */
  readonly kind?: string;
  /** Escalation target for this actor, instead of the monitor's or the supervisor. */
  readonly escalateTo?: Pid | string;
}

export interface Timings {
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  readonly startupTimeoutMs: number;
  readonly failAfterMs: number;
}

/** The mutable, in-memory state of one monitored key. Times are monitor clock milliseconds. */
export interface Slot {
  readonly key: string;
  pid: Pid;
  id: string | undefined;
  supervisor: Pid | undefined;
  kind: string;
  policy: StalePolicy;
  escalateTo: Pid | string | undefined;
  timings: Timings;
  state: HealthState;
  cause: TransitionCause;
  stateSince: number;
  registeredAt: number;
  lastBeat: number | undefined;
  beats: number;
  restarts: number;
  lastExitReason: string | undefined;
  lastExitAt: number | undefined;
  /** False once the pid is known to have exited. */
  live: boolean;
  /** Changed since the last flush. */
  dirty: boolean;
  /** The monitor's monitor ref on the pid (to demonitor). */
  ref: unknown;
}

export interface Transition {
  readonly to: HealthState;
  readonly cause: TransitionCause;
  /** When the transition took effect (its deadline), monitor clock ms. */
  readonly at: number;
}

export function isTerminal(s: HealthState): boolean {
  return s === 'failed' || s === 'stopped';
}

/** The transition a deadline calls for at `now`, if any. Applies one step; call again for the next. */
export function dueTransition(slot: Slot, now: number): Transition | undefined {
  const t = slot.timings;
  switch (slot.state) {
    case 'initializing': {
      const at = slot.registeredAt + t.startupTimeoutMs;
      return now >= at ? { to: 'stale', cause: 'startup_timeout', at } : undefined;
    }
    case 'active': {
      const at = (slot.lastBeat ?? slot.registeredAt) + t.staleAfterMs;
      return now >= at ? { to: 'stale', cause: 'missed_heartbeats', at } : undefined;
    }
    case 'stale': {
      const at = slot.stateSince + t.failAfterMs;
      return now >= at ? { to: 'failed', cause: 'stale_too_long', at } : undefined;
    }
    default:
      return undefined;
  }
}

/** The transition a heartbeat at `now` causes, if any. */
export function beatTransition(slot: Slot, now: number): Transition | undefined {
  if (slot.state === 'initializing') return { to: 'active', cause: 'first_heartbeat', at: now };
  if (slot.state === 'stale') return { to: 'active', cause: 'recovered', at: now };
  return undefined;
}

/** The transition the actor's exit causes. */
export function exitTransition(clean: boolean, now: number): Transition {
  return { to: clean ? 'stopped' : 'failed', cause: 'exited', at: now };
}

function positive(name: string, v: unknown, fix: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidHealthOptionsError(
      `${name} is ${JSON.stringify(v)}; it must be a finite number of milliseconds > 0 (${fix})`,
      {
        field: name,
        value: v,
      },
    );
  }
  return v;
}

/** Fills per-actor timings from the options and the monitor's defaults, and checks them. */
export function normalizeTimings(o: ActorHealthOptions, d: ActorHealthOptions = {}): Timings {
  const intervalMs = positive(
    'intervalMs',
    o.intervalMs ?? d.intervalMs ?? HEALTH_DEFAULTS.intervalMs,
    'the expected time between beats',
  );
  // staleAfterMs and failAfterMs default to a multiple of the actor's interval: the monitor's own
  // value applies only to an actor that did not set its interval either.
  const multiple = (field: 'staleAfterMs' | 'failAfterMs', intervals: number, what: string): number =>
    positive(
      field,
      o[field] ?? (o.intervalMs === undefined ? d[field] : undefined) ?? intervalMs * intervals,
      what,
    );
  const staleAfterMs = multiple('staleAfterMs', HEALTH_DEFAULTS.staleAfterIntervals, 'e.g. 3 × intervalMs');
  if (staleAfterMs < intervalMs) {
    throw new InvalidHealthOptionsError(
      `staleAfterMs (${staleAfterMs}) is shorter than intervalMs (${intervalMs}): an actor beating on time would be reported stale; use staleAfterMs >= intervalMs, typically 3 × intervalMs`,
      { field: 'staleAfterMs', staleAfterMs, intervalMs },
    );
  }
  const startupTimeoutMs = positive(
    'startupTimeoutMs',
    o.startupTimeoutMs ?? d.startupTimeoutMs ?? HEALTH_DEFAULTS.startupTimeoutMs,
    'how long the actor may take to send its first beat',
  );
  const failAfterMs = multiple(
    'failAfterMs',
    HEALTH_DEFAULTS.failAfterIntervals,
    'how long an actor may stay stale before it counts as failed',
  );
  return { intervalMs, staleAfterMs, startupTimeoutMs, failAfterMs };
}

export function normalizePolicy(p: unknown): StalePolicy {
  const policy = p ?? HEALTH_DEFAULTS.policy;
  if (!POLICIES.includes(policy as StalePolicy)) {
    throw new InvalidHealthOptionsError(`policy is ${JSON.stringify(p)}; use one of ${POLICIES.join(', ')}`, {
      field: 'policy',
      value: p,
    });
  }
  return policy as StalePolicy;
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > HEALTH_DEFAULTS.maxKeyLength) {
    throw new InvalidHealthOptionsError(
      `key is ${JSON.stringify(key)}; use a non-empty string of at most ${HEALTH_DEFAULTS.maxKeyLength} characters`,
      { field: 'key' },
    );
  }
  return key;
}
