/**
 * Structured events of a ToolPool. Listeners are called synchronously; a throwing listener is
 * ignored (it must not break a call). Events are only built when someone listens, so an unobserved
 * pool pays nothing for them on the call path.
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

export class PoolEvents {
  readonly #pool: string;
  readonly #listeners = new Set<PoolEventListener>();

  constructor(pool: string) {
    this.#pool = pool;
  }

  /** True when someone listens: callers check it before building an event. */
  get active(): boolean {
    return this.#listeners.size > 0;
  }

  on(listener: PoolEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(e: PoolEventInput): void {
    if (this.#listeners.size === 0) return;
    const full = { ...e, pool: this.#pool, at: Date.now() } as PoolEvent;
    for (const l of this.#listeners) {
      try {
        l(full);
      } catch {
        // A faulty listener must not fail a call or a worker.
      }
    }
  }
}
