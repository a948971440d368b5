/**
 * The pool's metrics through OpenTelemetry's metrics API (`@opentelemetry/api` only): the app's
 * MeterProvider (or the observer's, which serves them on `/metrics` for Prometheus) collects them.
 *
 *   trellis.tool.duration         histogram  pool, tool, outcome (ok | error): seconds, queueing
 *                                            included; its count is the calls finished
 *   trellis.tool.errors           counter    pool, tool, code (the TrellisError code)
 *
 * One record per successful call, not two (a calls counter beside the histogram): the SDK hashes
 * the attributes on every record, which at tens of thousands of calls a second is what costs.
 *   trellis.pool.queue.depth      gauge      pool
 *   trellis.pool.in_flight        gauge      pool
 *   trellis.pool.workers.ready    gauge      pool
 *   trellis.worker.memory.rss     gauge      pool, worker (slot), worker.pid (bytes)
 *   trellis.worker.cpu.time       counter    pool, worker, worker.pid (seconds, observed)
 *   trellis.pool.worker.restarts  counter    pool
 *   trellis.pool.worker.recycles  counter    pool, reason
 *   trellis.pool.worker.crashes   counter    pool
 *   trellis.pool.tool.quarantines counter    pool, tool
 *
 * The API's global MeterProvider is not a proxy (a meter taken before the app registers its
 * provider stays a no-op forever), so the instruments are re-created whenever the global provider
 * changes: one identity check per call, and nothing at all is recorded while it is the no-op one.
 */
import {
  type Attributes,
  type BatchObservableResult,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
} from '@opentelemetry/api';
import type { PoolWorker } from '../pool/dispatcher.js';
import type { PoolEvent } from '../pool/events.js';

export interface PoolGaugeSource {
  readonly queueDepth: number;
  workers(): readonly PoolWorker[];
}

/** Seconds: the histogram's buckets, from half a millisecond to half a minute. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The API's no-op meter class (the API exports no other way to recognise its no-op provider). */
const NOOP_METER = createNoopMeter().constructor;

interface Instruments {
  readonly provider: MeterProvider;
  readonly meter: Meter;
  readonly errors: Counter;
  readonly duration: Histogram;
  readonly restarts: Counter;
  readonly recycles: Counter;
  readonly crashes: Counter;
  readonly quarantines: Counter;
  readonly detach: () => void;
}

export class PoolMetrics {
  readonly #pool: string;
  readonly #gauges: PoolGaugeSource;
  #i: Instruments | undefined;
  /** The last provider found to be the API's no-op one (nothing to record). */
  #noop: MeterProvider | undefined;
  /** Attribute objects per tool, built once (the SDK keys its series by their content). */
  readonly #attrs = new Map<string, { ok: Attributes; err: Attributes; tool: Attributes }>();
  #open = false;

  constructor(pool: string, gauges: PoolGaugeSource) {
    this.#pool = pool;
    this.#gauges = gauges;
  }

  /** Observes the pool's gauges while it runs (the pool calls this at start, `close` at stop). */
  open(): void {
    this.#open = true;
    this.#current();
  }

  close(): void {
    this.#open = false;
    this.#i?.detach();
    this.#i = undefined;
  }

  #current(): Instruments | undefined {
    const provider = metrics.getMeterProvider();
    if (this.#i?.provider === provider) return this.#i;
    if (provider === this.#noop) return undefined;
    this.#i?.detach();
    this.#i = undefined;
    const meter = provider.getMeter('@trellis/grpc-bridge');
    if (meter.constructor === NOOP_METER) {
      this.#noop = provider;
      return undefined;
    }
    this.#i = this.#create(provider, meter);
    return this.#i;
  }

  #create(provider: MeterProvider, meter: Meter): Instruments {
    const pool = { 'trellis.pool': this.#pool };
    const queue = meter.createObservableGauge('trellis.pool.queue.depth', {
      description: 'Calls waiting for a worker',
    });
    const inFlight = meter.createObservableGauge('trellis.pool.in_flight', {
      description: 'Calls running on a worker',
    });
    const ready = meter.createObservableGauge('trellis.pool.workers.ready', {
      description: 'Workers taking calls',
    });
    const rss = meter.createObservableGauge('trellis.worker.memory.rss', {
      description: 'Resident set size of a Python worker process',
      unit: 'By',
    });
    const cpu = meter.createObservableCounter('trellis.worker.cpu.time', {
      description: 'CPU time (user + system) of a Python worker process',
      unit: 's',
    });
    const observe = (r: BatchObservableResult): void => {
      if (!this.#open) return;
      const g = this.#gauges;
      r.observe(queue, g.queueDepth, pool);
      let running = 0;
      let n = 0;
      for (const w of g.workers()) {
        if (w.state === 'gone') continue;
        running += w.inFlight;
        if (w.state === 'ready') n++;
        const attrs = { ...pool, 'trellis.worker': w.slot, 'trellis.worker.pid': w.pid };
        if (w.rssBytes !== undefined) r.observe(rss, w.rssBytes, attrs);
        if (w.cpuSeconds !== undefined) r.observe(cpu, w.cpuSeconds, attrs);
      }
      r.observe(inFlight, running, pool);
      r.observe(ready, n, pool);
    };
    const observables = [queue, inFlight, ready, rss, cpu];
    meter.addBatchObservableCallback(observe, observables);
    return {
      provider,
      meter,
      errors: meter.createCounter('trellis.tool.errors', { description: 'Tool calls failed, by error code' }),
      duration: meter.createHistogram('trellis.tool.duration', {
        description: 'Duration of tool calls, queueing included (its count: the calls finished, by outcome)',
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
      restarts: meter.createCounter('trellis.pool.worker.restarts', {
        description: 'Worker processes started to replace one that exited',
      }),
      recycles: meter.createCounter('trellis.pool.worker.recycles', {
        description: 'Workers replaced gracefully (ttl, max_calls, max_rss, wedged)',
      }),
      crashes: meter.createCounter('trellis.pool.worker.crashes', {
        description: 'Workers that died of a crash signal or the OOM killer',
      }),
      quarantines: meter.createCounter('trellis.pool.tool.quarantines', {
        description: 'Tools quarantined after repeated crashes',
      }),
      detach: () => meter.removeBatchObservableCallback(observe, observables),
    };
  }

  #toolAttrs(tool: string): { ok: Attributes; err: Attributes; tool: Attributes } {
    let a = this.#attrs.get(tool);
    if (a === undefined) {
      const base = { 'trellis.pool': this.#pool, 'trellis.tool': tool };
      a = { ok: { ...base, outcome: 'ok' }, err: { ...base, outcome: 'error' }, tool: base };
      // Bounded: unknown tool names are refused before they reach here, but a pool may serve many.
      if (this.#attrs.size < 1000) this.#attrs.set(tool, a);
    }
    return a;
  }

  /** A finished call: `code` is undefined for a success. */
  call(tool: string, ms: number, code: string | undefined): void {
    const i = this.#current();
    if (i === undefined) return;
    const a = this.#toolAttrs(tool);
    if (code === undefined) {
      i.duration.record(ms / 1000, a.ok);
      return;
    }
    i.duration.record(ms / 1000, a.err);
    i.errors.add(1, { ...a.tool, code });
  }

  /** Lifecycle events that count (a tap on the pool's events). */
  onEvent(e: PoolEvent): void {
    if (
      e.type !== 'worker_ready' &&
      e.type !== 'worker_recycled' &&
      e.type !== 'worker_tainted' &&
      e.type !== 'tool_quarantined'
    )
      return;
    const i = this.#current();
    if (i === undefined) return;
    const pool = { 'trellis.pool': this.#pool };
    if (e.type === 'worker_ready') {
      if (e.restart) i.restarts.add(1, pool);
    } else if (e.type === 'worker_recycled') i.recycles.add(1, { ...pool, reason: e.reason });
    else if (e.type === 'worker_tainted') i.crashes.add(1, pool);
    else i.quarantines.add(1, { ...pool, 'trellis.tool': e.tool });
  }
}
