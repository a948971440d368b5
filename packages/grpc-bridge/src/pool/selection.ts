/**
 * The dispatcher's one decision, as a replaceable function: which worker gets a call.
 *
 * A selector sees every ready worker the call may go to (busy ones included, so a policy such as
 * session affinity can choose to wait for a particular worker) and returns one that has a free place
 * to dispatch now, or `undefined` to leave the call queued. It may throw a TrellisError to fail the
 * call at once (a strict affinity mode that refuses to wait). It must be fast and synchronous: it
 * runs on every dispatch and every time a place frees up while calls are queued.
 */

/** What a selector may know about a worker. */
export interface WorkerView {
  /** Unique per worker process: a restarted worker gets a new id. */
  readonly id: number;
  /** The worker's position in the pool (0..size-1), kept across restarts. */
  readonly slot: number;
  readonly pid: number;
  /** Calls the dispatcher has running on it now. */
  readonly inFlight: number;
  /**
   * Slots held by tool executions whose call is over (a tool that ignores cancellation keeps its
   * Python thread): reported by its heartbeat, plus calls that just ended by deadline or
   * cancellation until the next heartbeat settles them. Load like `inFlight`: the worker can take
   * `capacity - inFlight - abandoned` calls now.
   */
  readonly abandoned: number;
  /** Most calls it may run at once (`maxConcurrentPerWorker`). */
  readonly capacity: number;
  /** Calls it has finished since it started. */
  readonly served: number;
}

/** What a selector may know about the call. */
export interface SelectionRequest {
  readonly tool: string;
  readonly sessionId: string | undefined;
  /** 0 for the first attempt, 1 for the retry of an idempotent call. */
  readonly attempt: number;
}

export type WorkerSelector = (
  workers: readonly WorkerView[],
  request: SelectionRequest,
) => WorkerView | undefined;

/**
 * Least-loaded: the worker with the fewest calls in flight (abandoned places included); among equals, the one after the worker
 * picked last (round robin), so an idle pool spreads calls over all its processes instead of
 * piling them on the first.
 */
export function leastLoaded(): WorkerSelector {
  let cursor = 0;
  return (workers) => {
    const n = workers.length;
    let best: WorkerView | undefined;
    let bestIndex = 0;
    let bestLoad = 0;
    for (let k = 0; k < n; k++) {
      const i = (cursor + k) % n;
      const w = workers[i]!;
      // Abandoned places are load: a worker whose tool is stuck must not look idle.
      const load = w.inFlight + w.abandoned;
      if (load >= w.capacity) continue;
      if (best === undefined || load < bestLoad) {
        best = w;
        bestLoad = load;
        bestIndex = i;
        if (load === 0) break;
      }
    }
    if (best !== undefined) cursor = bestIndex + 1;
    return best;
  };
}
