/**
 * A pool's `stats()` as the page, `trellis status` and `/api/snapshot` show it: never raw JSON.
 *
 * A gRPC ToolPool (its stats have `workers` and `calls`) becomes a summary plus one row per Python
 * worker (OS pid, state, in-flight, calls, errors, p50/p99, RSS, CPU, restarts, last exit), and a
 * short history for the charts (throughput, latency, RSS over the last minutes). CPU is a
 * percentage computed here from two consecutive CPU-time samples of the same process. Any other
 * pool (a core task pool, an app's own) is a list of labelled values: scalars as they are, nested
 * objects flattened to dotted names, lists reduced to their length.
 */

export interface WorkerRow {
  readonly slot: number;
  /** OS pid of the Python process. */
  readonly pid: number;
  /** The PythonWorker actor's pid: its node in the tree. */
  readonly actorPid: string | null;
  readonly state: string;
  readonly inFlight: number;
  readonly calls: number;
  readonly errors: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly rssBytes: number | null;
  /** Percent of one core since the previous sample (null until there are two). */
  readonly cpuPercent: number | null;
  readonly restarts: number;
  readonly lastExit: string | null;
  readonly lastHeartbeatAt: number | null;
  readonly startedAt: number | null;
}

/** One point of a pool's history. */
export interface PoolSample {
  /** Wall-clock ms. */
  readonly t: number;
  /** Calls finished per second since the previous sample. */
  readonly throughput: number;
  readonly p50: number | null;
  readonly p99: number | null;
  /** RSS of all the pool's workers, MiB. */
  readonly rssMb: number;
  readonly inFlight: number;
}

export interface ToolPoolView {
  readonly status: string;
  readonly size: number;
  readonly ready: number;
  readonly inFlight: number;
  readonly queueDepth: number;
  readonly calls: number;
  readonly failed: number;
  readonly retried: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly restarts: number;
  readonly recycles: number;
  readonly crashes: number;
  readonly circuit: string;
  readonly quarantined: readonly string[];
  readonly errorsByCode: readonly { readonly code: string; readonly count: number }[];
  readonly workers: readonly WorkerRow[];
  readonly series: readonly PoolSample[];
}

export interface LabelledValue {
  readonly label: string;
  readonly value: string | number | boolean | null;
}

type Obj = Readonly<Record<string, unknown>>;

/** CPU percent is measured over about this long (see #cpuPercent). */
const CPU_WINDOW_MS = 5000;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A ToolPool's stats (structurally: a `workers` list and a `calls` object). */
export function isToolPoolStats(s: unknown): s is Obj {
  return isObj(s) && Array.isArray(s.workers) && isObj(s.calls);
}

/** Scalars as they are, nested objects as dotted names (two levels), lists as their length. */
export function labelledValues(stats: unknown): LabelledValue[] {
  const out: LabelledValue[] = [];
  const walk = (o: Obj, prefix: string, depth: number): void => {
    for (const [k, v] of Object.entries(o)) {
      if (out.length >= 100) return;
      const label = prefix ? `${prefix}.${k}` : k;
      if (v === undefined || typeof v === 'function') continue;
      if (v === null || typeof v === 'number' || typeof v === 'boolean') out.push({ label, value: v });
      else if (typeof v === 'string') out.push({ label, value: v.length > 120 ? `${v.slice(0, 119)}…` : v });
      else if (typeof v === 'bigint') out.push({ label, value: String(v) });
      else if (Array.isArray(v)) out.push({ label: `${label} (count)`, value: v.length });
      else if (isObj(v) && depth < 2) walk(v, label, depth + 1);
      else out.push({ label, value: '…' });
    }
  };
  if (isObj(stats)) walk(stats, '', 0);
  return out;
}

/** Keeps what the views need between two reads of a pool: CPU samples and the history. */
export class PoolHistory {
  readonly #cpu = new Map<number, { at: number; seconds: number }[]>();
  readonly #series: PoolSample[] = [];
  #last: { at: number; finished: number } | undefined;

  constructor(
    readonly maxSamples: number,
    readonly minIntervalMs: number,
  ) {}

  view(s: Obj, now: number): ToolPoolView {
    const calls = isObj(s.calls) ? s.calls : {};
    const latency = isObj(s.latencyMs) ? s.latencyMs : {};
    const seen = new Set<number>();
    const workers: WorkerRow[] = [];
    for (const w of s.workers as unknown[]) {
      if (!isObj(w)) continue;
      const pid = num(w.pid);
      seen.add(pid);
      const lat = isObj(w.latencyMs) ? w.latencyMs : {};
      workers.push({
        slot: num(w.slot),
        pid,
        actorPid: typeof w.actorPid === 'string' ? w.actorPid : null,
        state: typeof w.state === 'string' ? w.state : 'unknown',
        inFlight: num(w.inFlight),
        calls: num(w.served),
        errors: num(w.failed),
        p50: numOrNull(lat.p50),
        p99: numOrNull(lat.p99),
        rssBytes: numOrNull(w.rssBytes),
        cpuPercent: this.#cpuPercent(pid, numOrNull(w.cpuSeconds), now),
        restarts: num(w.restarts),
        lastExit: typeof w.lastExit === 'string' ? w.lastExit : null,
        lastHeartbeatAt: numOrNull(w.lastHeartbeatAt),
        startedAt: numOrNull(w.startedAt),
      });
    }
    for (const pid of this.#cpu.keys()) if (!seen.has(pid)) this.#cpu.delete(pid);
    workers.sort((a, b) => a.slot - b.slot || a.pid - b.pid);
    const finished = num(calls.succeeded) + num(calls.failed);
    const inFlight = num(s.inFlight);
    this.#sample(now, finished, numOrNull(latency.p50), numOrNull(latency.p99), workers, inFlight);
    const errors = isObj(s.errorsByCode) ? s.errorsByCode : {};
    return {
      status: typeof s.status === 'string' ? s.status : 'unknown',
      size: num(s.size),
      ready: num(s.readyWorkers),
      inFlight,
      queueDepth: num(s.queueDepth),
      calls: finished,
      failed: num(calls.failed),
      retried: num(calls.retried),
      p50: numOrNull(latency.p50),
      p99: numOrNull(latency.p99),
      restarts: num(s.restarts),
      recycles: num(s.recycles),
      crashes: num(s.tainted),
      circuit: typeof s.circuit === 'string' ? s.circuit : 'off',
      quarantined: isObj(s.quarantined) ? Object.keys(s.quarantined).sort() : [],
      errorsByCode: Object.entries(errors)
        .map(([code, count]) => ({ code, count: num(count) }))
        .sort((a, b) => b.count - a.count),
      workers,
      series: [...this.#series],
    };
  }

  /**
   * CPU percent of one core over the last few seconds: the kernel counts CPU time in 10 ms ticks and
   * the host reads it once per heartbeat, so two reads a poll apart are too coarse; the oldest
   * sample within CPU_WINDOW_MS is the reference.
   */
  #cpuPercent(pid: number, seconds: number | null, now: number): number | null {
    if (seconds === null) return null;
    let ring = this.#cpu.get(pid);
    if (ring === undefined) {
      ring = [];
      this.#cpu.set(pid, ring);
    }
    const last = ring[ring.length - 1];
    if (last === undefined || last.seconds !== seconds || now - last.at >= this.minIntervalMs)
      ring.push({ at: now, seconds });
    while (ring.length > 2 && now - ring[1]!.at >= CPU_WINDOW_MS) ring.shift();
    const ref = ring[0]!;
    if (now - ref.at < this.minIntervalMs) return null;
    return Math.max(0, ((seconds - ref.seconds) / ((now - ref.at) / 1000)) * 100);
  }

  #sample(
    now: number,
    finished: number,
    p50: number | null,
    p99: number | null,
    workers: readonly WorkerRow[],
    inFlight: number,
  ): void {
    const last = this.#last;
    if (last !== undefined && now - last.at < this.minIntervalMs) return;
    this.#last = { at: now, finished };
    if (last === undefined) return;
    const rss = workers.reduce((n, w) => n + (w.rssBytes ?? 0), 0) / (1024 * 1024);
    this.#series.push({
      t: now,
      throughput: Math.max(0, (finished - last.finished) / ((now - last.at) / 1000)),
      p50,
      p99,
      rssMb: Math.round(rss * 10) / 10,
      inFlight,
    });
    if (this.#series.length > this.maxSamples) this.#series.splice(0, this.#series.length - this.maxSamples);
  }
}
