/**
 * Structured events of a ToolPool. Listeners are called synchronously; a throwing listener is
 * ignored (it must not break a call). Events are only built when someone listens, so an unobserved
 * pool pays nothing for them on the call path.
 *
 * One emitter per event family: `events.worker` and `events.pool` here, and the call family
 * (call_started, call_retried, call_finished, call_failed) in the Call seam (call/call.ts), the only
 * place that reports a call. Each checks once whether anyone listens and only then builds the
 * event, so the code that reports an event is one line, and the `if (active)` guard lives in the
 * emitter instead of at every place that emits.
 */

interface Base {
  readonly pool: string;
  /** Wall-clock time, ms since the epoch. */
  readonly at: number;
}

/** Why a worker exited, as data. */
export interface WorkerExitReason {
  /** `shutdown`, `normal`, `killed` or `error`. */
  readonly type: string;
  /** The TrellisError code when the reason carries one (ERR_WORKER_EXITED, ERR_HEARTBEAT_MISSED, ...). */
  readonly code?: string | undefined;
  readonly message: string;
}

export type PoolEvent =
  | (Base & { readonly type: 'pool_started'; readonly size: number; readonly startMs: number })
  | (Base & { readonly type: 'pool_stopped'; readonly reason: string })
  | (Base & { readonly type: 'worker_started'; readonly slot: number; readonly pid: number })
  | (Base & {
      readonly type: 'worker_ready';
      readonly slot: number;
      readonly workerId: number;
      readonly pid: number;
      readonly address: string;
      readonly startMs: number;
      readonly restart: boolean;
    })
  | (Base & {
      readonly type: 'worker_exited';
      readonly slot: number;
      readonly workerId: number;
      readonly pid: number;
      readonly exitCode: number | null;
      readonly signal: string | null;
      readonly reason: WorkerExitReason;
    })
  | (Base & {
      readonly type: 'worker_start_failed';
      readonly slot: number;
      readonly code: string;
      readonly message: string;
    })
  | (Base & {
      readonly type: 'call_started';
      readonly callId: string;
      readonly tool: string;
      readonly workerId: number;
      readonly pid: number;
      readonly queuedMs: number;
      readonly attempt: number;
    })
  | (Base & {
      readonly type: 'call_finished';
      readonly callId: string;
      readonly tool: string;
      readonly workerId: number;
      readonly pid: number;
      readonly durationMs: number;
    })
  | (Base & {
      readonly type: 'call_failed';
      readonly callId: string;
      readonly tool: string;
      readonly workerId: number | undefined;
      readonly pid: number | undefined;
      readonly durationMs: number;
      readonly code: string;
      readonly message: string;
    })
  | (Base & {
      readonly type: 'call_retried';
      readonly callId: string;
      readonly tool: string;
      readonly fromWorkerId: number;
      readonly code: string;
    })
  | (Base & {
      readonly type: 'worker_recycled';
      readonly slot: number;
      /** The worker that retires, and the fresh one that took its place. */
      readonly workerId: number;
      readonly pid: number;
      readonly newWorkerId: number;
      readonly newPid: number;
      /** `ttl`, `max_calls`, `max_rss` or `wedged` (a stuck tool), with the figure that triggered it. */
      readonly reason: string;
      readonly detail: string;
    })
  | (Base & {
      readonly type: 'worker_tainted';
      readonly slot: number;
      readonly workerId: number;
      readonly pid: number;
      readonly exitCode: number | null;
      readonly signal: string | null;
      /** Tools that were running on it when it crashed. */
      readonly tools: readonly string[];
    })
  | (Base & {
      readonly type: 'tool_quarantined';
      readonly tool: string;
      readonly crashes: number;
      readonly cooldownMs: number;
    })
  | (Base & { readonly type: 'circuit_changed'; readonly state: 'open' | 'closed' | 'half-open' })
  | (Base & {
      readonly type: 'session_ended';
      readonly sessionId: string;
      /** `ended` (pool.endSession), `expired` (sessionTtlMs) or `pool_stopped`. */
      readonly reason: string;
      readonly workerPid: number | undefined;
      /** The worker held state for it and dropped it (EndSession answered). */
      readonly released: boolean;
    })
  | (Base & {
      readonly type: 'queue_full';
      readonly tool: string;
      readonly queueDepth: number;
      readonly maxQueue: number;
    });

export type PoolEventType = PoolEvent['type'];
export type PoolEventListener = (e: PoolEvent) => void;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type PoolEventInput = DistributiveOmit<PoolEvent, 'pool' | 'at'>;

/** The worker an event speaks of: its dispatcher id and its process's pid. */
interface WorkerRef {
  readonly id: number;
  readonly pid: number;
}

export class PoolEvents {
  readonly #pool: string;
  readonly #listeners = new Set<PoolEventListener>();
  /** worker_started, worker_ready, worker_start_failed, worker_exited, worker_recycled, worker_tainted. */
  readonly worker = new WorkerEvents(this);
  /** pool_started, pool_stopped, queue_full, circuit_changed, tool_quarantined, session_ended. */
  readonly pool = new PoolLifeEvents(this);

  constructor(pool: string) {
    this.#pool = pool;
  }

  /**
   * The pool's own listeners (lifecycle logs, metrics, per-slot history: see telemetry/): they want
   * the worker and pool events always, but not the per-call ones, built only when a user listens.
   */
  readonly #taps = new Set<PoolEventListener>();

  /** True when someone listens: the worker and pool families check it before building an event. */
  get active(): boolean {
    return this.#listeners.size > 0 || this.#taps.size > 0;
  }

  /** True when a user listens: the per-call events (and queue_full) are built only then. */
  get callsActive(): boolean {
    return this.#listeners.size > 0;
  }

  on(listener: PoolEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** An internal listener (see #taps); it must not throw. */
  tap(listener: PoolEventListener): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  emit(e: PoolEventInput): void {
    if (this.#listeners.size === 0 && this.#taps.size === 0) return;
    const full = { ...e, pool: this.#pool, at: Date.now() } as PoolEvent;
    for (const l of this.#taps) l(full);
    for (const l of this.#listeners) {
      try {
        l(full);
      } catch {
        // A faulty listener must not fail a call or a worker.
      }
    }
  }
}

/** The code of an error as events and counters report it (`ERR_UNKNOWN` when it carries none). */
export function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : 'ERR_UNKNOWN';
}

class WorkerEvents {
  constructor(readonly ev: PoolEvents) {}

  /** Its process was spawned (not ready yet). */
  started(slot: number, pid: number): void {
    if (!this.ev.active) return;
    this.ev.emit({ type: 'worker_started', slot, pid });
  }

  ready(
    slot: number,
    w: WorkerRef,
    p: { readonly address: string; readonly startMs: number },
    restart: boolean,
  ): void {
    if (!this.ev.active) return;
    this.ev.emit({
      type: 'worker_ready',
      slot,
      workerId: w.id,
      pid: w.pid,
      address: p.address,
      startMs: p.startMs,
      restart,
    });
  }

  startFailed(slot: number, e: unknown): void {
    if (!this.ev.active) return;
    this.ev.emit({ type: 'worker_start_failed', slot, code: errorCode(e), message: (e as Error).message });
  }

  exited(
    slot: number,
    w: WorkerRef,
    exit: { readonly exitCode: number | null; readonly signal: string | null } | undefined,
    reason: WorkerExitReason,
  ): void {
    if (!this.ev.active) return;
    this.ev.emit({
      type: 'worker_exited',
      slot,
      workerId: w.id,
      pid: w.pid,
      exitCode: exit?.exitCode ?? null,
      signal: exit?.signal ?? null,
      reason,
    });
  }

  recycled(slot: number, old: WorkerRef, fresh: WorkerRef, reason: string, detail: string): void {
    if (!this.ev.active) return;
    this.ev.emit({
      type: 'worker_recycled',
      slot,
      workerId: old.id,
      pid: old.pid,
      newWorkerId: fresh.id,
      newPid: fresh.pid,
      reason,
      detail,
    });
  }

  tainted(
    slot: number,
    w: WorkerRef,
    exit: { readonly exitCode: number | null; readonly signal: string | null },
    tools: readonly string[],
  ): void {
    if (!this.ev.active) return;
    this.ev.emit({
      type: 'worker_tainted',
      slot,
      workerId: w.id,
      pid: w.pid,
      exitCode: exit.exitCode,
      signal: exit.signal,
      tools,
    });
  }
}

class PoolLifeEvents {
  constructor(readonly ev: PoolEvents) {}

  started(size: number, startMs: number): void {
    if (!this.ev.active) return;
    this.ev.emit({ type: 'pool_started', size, startMs });
  }

  stopped(reason: string): void {
    if (!this.ev.active) return;
    this.ev.emit({ type: 'pool_stopped', reason });
  }

  queueFull(tool: string, queueDepth: number, maxQueue: number): void {
    if (!this.ev.callsActive) return;
    this.ev.emit({ type: 'queue_full', tool, queueDepth, maxQueue });
  }

  circuitChanged(state: 'open' | 'closed' | 'half-open'): void {
    if (!this.ev.active) return;
    this.ev.emit({ type: 'circuit_changed', state });
  }

  toolQuarantined(tool: string, crashes: number, cooldownMs: number): void {
    if (!this.ev.active) return;
    this.ev.emit({ type: 'tool_quarantined', tool, crashes, cooldownMs });
  }

  sessionEnded(sessionId: string, reason: string, workerPid: number | undefined, released: boolean): void {
    if (!this.ev.active) return;
    this.ev.emit({ type: 'session_ended', sessionId, reason, workerPid, released });
  }
}
