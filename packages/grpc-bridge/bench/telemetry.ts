/**
 * What tracing and metrics cost a call: the same pool (default transport, 2 workers) with an
 * OpenTelemetry SDK registered (a TracerProvider sampling every call into a BatchSpanProcessor whose
 * exporter drops the spans, and a MeterProvider with a pull reader, as the observer's /metrics
 * has) against no SDK at all (the API's no-op), rounds alternating which goes first:
 *
 *   unary p50 with tracing + metrics       one call at a time; target <= 1.1x the same without
 *   throughput with tracing + metrics      64 calls in flight; target >= 0.9x the same without
 *
 * The trace context goes to Python too (the worker has opentelemetry-api, no Python SDK: its call
 * spans are non-recording, as in an app that exports traces from the host only).
 *
 * Run alone: `node packages/grpc-bridge/dist/bench/telemetry.js` (prints JSON).
 */
import { performance } from 'node:perf_hooks';
import { metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ToolPool } from '../src/index.js';
import { BENCH_TOOLS } from './bare.js';
import { type BenchResult, median, pause, percentile, round3 } from './result.js';
import { targets } from './targets.js';

const ROUNDS = 7;
const CALLS = 1500;
const RATE_CALLS = 6000;
const IN_FLIGHT = 64;
const ARGS = { value: 'x'.repeat(64) };

class DropExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (r: { code: number }) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const exporter = new DropExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter })] });
const reader = new PullReader();
const meterProvider = new MeterProvider({ readers: [reader] });

function telemetry(on: boolean): void {
  if (on) {
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
  } else {
    trace.disable();
    metrics.disable();
  }
}

async function p50(n: number, once: () => Promise<unknown>): Promise<number> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once();
    lat.push(performance.now() - t);
  }
  return percentile(lat, 50) * 1000;
}

async function rate(n: number, once: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < n) await once();
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

async function rounds(measure: () => Promise<number>): Promise<{ on: number[]; off: number[] }> {
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await pause();
    for (const first of r % 2 === 0 ? [true, false] : [false, true]) {
      telemetry(first);
      (first ? on : off).push(await measure());
    }
  }
  telemetry(false);
  return { on, off };
}

function result(
  name: string,
  unit: string,
  m: { on: number[]; off: number[] },
  target: (typeof targets)['telemetryP50' | 'telemetryThroughput'],
): BenchResult {
  const ratios = m.on.map((v, i) => v / m.off[i]!);
  const ratio = median(ratios);
  return {
    name,
    value: round3(median(m.on)),
    unit,
    baseline: round3(median(m.off)),
    baselineName: target.baseline,
    ratio: round3(ratio),
    target,
    samples: ratios.map(round3),
  };
}

export async function benchTelemetry(): Promise<BenchResult[]> {
  const pool = await ToolPool.start({
    tools: BENCH_TOOLS,
    size: 2,
    name: 'bench-otel',
    maxConcurrentPerWorker: IN_FLIGHT / 2,
    concurrency: IN_FLIGHT / 2,
    heartbeatIntervalMs: 60_000,
  });
  try {
    const call = () => pool.call('echo', ARGS);
    for (const on of [true, false]) {
      telemetry(on);
      await p50(500, call);
    }
    telemetry(false);
    const latency = await rounds(() => p50(CALLS, call));
    const throughput = await rounds(() => rate(RATE_CALLS, call));
    await tracerProvider.forceFlush();
    if (exporter.exported === 0) throw new Error('no span was exported: tracing was not on');
    const { resourceMetrics } = await reader.collect();
    if (resourceMetrics.scopeMetrics.length === 0)
      throw new Error('no metric was recorded: metrics were not on');
    return [
      result(
        'unary p50 with tracing + metrics on (SDK registered) vs off',
        'us',
        latency,
        targets.telemetryP50,
      ),
      result(
        'throughput with tracing + metrics on vs off (2 workers, 64 in flight)',
        'calls/s',
        throughput,
        targets.telemetryThroughput,
      ),
    ];
  } finally {
    await pool.stop();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchTelemetry(), null, 2));
