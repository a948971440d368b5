/**
 * What a Python tool recorded with `ctx.metric` and `ctx.span`, sent back with its result
 * (`ToolTelemetry` in the response), recorded here with the host's OpenTelemetry API: metrics on
 * the meter `@trellis/python` (instrument named as in Python, labelled with the pool and tool too),
 * spans under the call's span, with the times Python measured.
 */
import {
  type Attributes,
  type Context,
  type Counter,
  type Gauge,
  type Histogram,
  type MeterProvider,
  metrics,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { ToolTelemetry__Output } from '../generated/trellis/bridge/v1/ToolTelemetry.js';

type Instrument = Counter | Histogram | Gauge;

/** Instruments by provider, then by kind + name; a tool cannot make more than this many names. */
const MAX_INSTRUMENTS = 500;
let cache: { provider: MeterProvider; byName: Map<string, Instrument> } | undefined;

function instrument(kind: string, name: string, unit: string): Instrument | undefined {
  const provider = metrics.getMeterProvider();
  if (cache?.provider !== provider) cache = { provider, byName: new Map() };
  const key = `${kind} ${name}`;
  let i = cache.byName.get(key);
  if (i !== undefined) return i;
  if (cache.byName.size >= MAX_INSTRUMENTS) return undefined;
  const meter = provider.getMeter('@trellis/python');
  const opts = unit ? { unit } : {};
  i =
    kind === 'histogram'
      ? meter.createHistogram(name, opts)
      : kind === 'gauge'
        ? meter.createGauge(name, opts)
        : meter.createCounter(name, opts);
  cache.byName.set(key, i);
  return i;
}

const tracer = trace.getTracer('@trellis/python');

/** Records one call's telemetry; `parent` is the call span's context (undefined: no spans made). */
export function recordToolTelemetry(
  t: ToolTelemetry__Output,
  pool: string,
  tool: string,
  parent: Context | undefined,
): void {
  for (const m of t.metrics) {
    const attrs: Attributes = { ...m.attributes, 'trellis.pool': pool, 'trellis.tool': tool };
    const i = instrument(m.kind, m.name, m.unit);
    if (i === undefined || !Number.isFinite(m.value)) continue;
    try {
      if ('add' in i) {
        if (m.value >= 0) i.add(m.value, attrs); // a counter only goes up: a negative add is dropped
      } else i.record(m.value, attrs);
    } catch {
      // An instrument name the SDK refuses must not fail the call that carried it.
    }
  }
  if (parent === undefined || t.spans.length === 0) return;
  // Parents have lower ids (numbered at their start), so one pass in id order finds each parent made.
  const made = new Map<number, Context>();
  for (const s of [...t.spans].sort((a, b) => a.id - b.id)) {
    const ctx = (s.parentId !== 0 ? made.get(s.parentId) : undefined) ?? parent;
    const span = tracer.startSpan(s.name, { startTime: s.startUnixMs, attributes: { ...s.attributes } }, ctx);
    if (s.error) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
    span.end(s.endUnixMs);
    made.set(s.id, trace.setSpan(ctx, span));
  }
}
