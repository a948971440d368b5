/**
 * Counters and the latency window behind `pool.stats()`. Recording is O(1) on the call path; the
 * percentiles are computed only when stats() is asked for.
 */

/** The last `size` latencies (ms) of finished calls, successful or not. */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;

  constructor(size: number) {
    this.#samples = new Float64Array(size);
  }

  add(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
  }

  /** p-th percentile (0..100) by nearest rank; undefined with no samples. */
  percentiles(ps: readonly number[]): (number | undefined)[] {
    if (this.#count === 0) return ps.map(() => undefined);
    const sorted = this.#samples.slice(0, this.#count).sort();
    return ps.map(
      (p) => sorted[Math.min(this.#count - 1, Math.max(0, Math.ceil((p / 100) * this.#count) - 1))],
    );
  }

  get count(): number {
    return this.#count;
  }
}

export class PoolCounters {
  started = 0;
  succeeded = 0;
  failed = 0;
  retried = 0;
  queueFull = 0;
  restarts = 0;
  recycles = 0;
  tainted = 0;
  /** Highest RSS the host's RSS poll read of any worker (only polled while maxRssMb is set). */
  peakWorkerRssBytes = 0;
  readonly errorsByCode = new Map<string, number>();
  readonly latency: LatencyWindow;

  constructor(window: number) {
    this.latency = new LatencyWindow(window);
  }

  ok(ms: number): void {
    this.succeeded++;
    this.latency.add(ms);
  }

  notePeakRss(bytes: number): void {
    if (bytes > this.peakWorkerRssBytes) this.peakWorkerRssBytes = bytes;
  }

  fail(code: string, ms: number | undefined): void {
    this.failed++;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    if (ms !== undefined) this.latency.add(ms);
  }
}

/** One worker in `stats().workers`. */
export interface WorkerStatsView {
  readonly slot: number;
  readonly workerId: number;
  readonly pid: number;
  /** The address its gRPC server listens on (`unix:/...` or `127.0.0.1:PORT`). */
  readonly address: string;
  readonly state: 'ready' | 'draining' | 'gone';
  readonly inFlight: number;
  /**
   * Slots held by tool executions whose call is over (a tool that ignores cancellation), as its
   * last heartbeat reported them, plus calls just ended by deadline or cancellation that the next
   * heartbeat has yet to settle. Counted as load by the dispatcher.
   */
  readonly abandoned: number;
  readonly served: number;
  /** RSS of the Python process from its last heartbeat (bytes). */
  readonly rssBytes: number | undefined;
  /** CPU time (user + system) of the Python process at its last heartbeat, seconds. */
  readonly cpuSeconds: number | undefined;
  /** The PythonWorker actor's pid (its node in the supervision tree). */
  readonly actorPid: string | undefined;
  /** When this process started taking calls, and when its last heartbeat was answered (ms since the epoch). */
  readonly startedAt: number;
  readonly lastHeartbeatAt: number | undefined;
  /** Calls that failed on this process. */
  readonly failed: number;
  /** Over this process's last 256 finished calls, ms. */
  readonly latencyMs: { readonly p50: number | undefined; readonly p99: number | undefined };
  /** Processes started in this slot to replace one that exited, and recycles of the slot. */
  readonly restarts: number;
  readonly recycles: number;
  /** Why the slot's previous process ended (undefined while it has had only one). */
  readonly lastExit: string | undefined;
  /** True while its calls go over its call lane; false when they go over gRPC unary RPCs. */
  readonly lane: boolean;
  /** Calls sent over its call lane so far. */
  readonly laneCalls: number;
  /** The node it runs on (a pool with `placement`); undefined: a local worker. */
  readonly node: string | undefined;
  /** Which life of that node (undefined: a local worker). */
  readonly incarnation: number | undefined;
  /** Heartbeats answered over its call lane so far (the others went over the Heartbeat RPC). */
  readonly laneHeartbeats: number;
}

/** One node of a pool with `placement` (issue 15). */
export interface NodeStatsView {
  readonly node: string;
  readonly incarnation: number;
  /** True while the node is live (its slots are in the pool); false: gone, kept for its figures. */
  readonly live: boolean;
  /** Its workers with a live process now. */
  readonly workers: number;
  readonly inFlight: number;
  /** Calls its workers finished (succeeded or failed), those that have left included. */
  readonly calls: number;
  readonly failed: number;
}

export interface PoolStats {
  readonly pool: string;
  /** `running` while the pool's supervisor runs, else `stopped`. */
  readonly status: 'running' | 'stopped';
  readonly size: number;
  readonly queueDepth: number;
  readonly maxQueue: number;
  /** Workers with a live process that take calls. */
  readonly readyWorkers: number;
  /** Ready workers running at least one call / running none. */
  readonly busyWorkers: number;
  readonly idleWorkers: number;
  readonly inFlight: number;
  readonly calls: {
    readonly started: number;
    readonly succeeded: number;
    readonly failed: number;
    /** Idempotent calls retried on another worker after their worker died. */
    readonly retried: number;
  };
  /** Failed calls by TrellisError code. */
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** Over the last `latencyWindow` finished calls, ms (undefined before the first). */
  readonly latencyMs: {
    readonly p50: number | undefined;
    readonly p99: number | undefined;
    readonly samples: number;
  };
  /** Worker processes started to replace one that exited. */
  readonly restarts: number;
  /** Calls refused because the queue was full. */
  readonly queueFull: number;
  /** Workers replaced gracefully (ttlMs, maxCalls, maxRssMb, wedged by a stuck tool). */
  readonly recycles: number;
  /** Workers that died of a crash signal or exit code 134/137/139. */
  readonly tainted: number;
  /**
   * Highest RSS of any worker process, in bytes, as the host's RSS poll read it (every rssPollMs
   * while maxRssMb is set; 0 otherwise).
   */
  readonly peakWorkerRssBytes: number;
  /** Quarantined tools and the ms each is still refused for. */
  readonly quarantined: Readonly<Record<string, number>>;
  /** The circuit breaker's state (`off` when not configured). */
  readonly circuit: 'off' | 'closed' | 'open' | 'half-open';
  /** Live sessions. */
  readonly sessions: number;
  readonly workers: readonly WorkerStatsView[];
  /** Per node, for a pool with `placement` (empty for a local pool). */
  readonly nodes: readonly NodeStatsView[];
}
