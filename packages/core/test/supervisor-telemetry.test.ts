/**
 * Supervisor restarts as OpenTelemetry data from core itself, with no observer and no listener on
 * the event bus: span events (on the active span, or on a `supervisor restart` span of their own),
 * and the restarts counter and intensity gauge per supervisor. OTel's in-memory exporter and a
 * pull metric reader, registered as the global providers, as an app would.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { currentNode, eventBus, type Pid, serverChild, startSupervisor } from '../src/index.js';
import { assertClean, childPid, crash, recorder, stopSup } from './fixtures/app-otp-kit.js';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });

before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
});
after(async () => {
  trace.disable();
  metrics.disable();
  context.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});
afterEach(() => {
  assertClean();
  spans.reset();
});

function points(rm: ResourceMetrics, name: string): DataPoint<number>[] {
  return rm.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as DataPoint<number>[]);
}

const log: string[] = [];
async function tree(name: string, intensity: number): Promise<Pid> {
  return startSupervisor(
    {
      flags: { strategy: 'one_for_one', intensity, periodMs: 60_000 },
      children: [{ id: 'a', start: serverChild(recorder(log)), args: ['a'] }],
    },
    { name },
  );
}

/** Waits for child `a` of `sup` to run with a pid other than `old`. */
async function restarted(sup: Pid, old: Pid): Promise<Pid> {
  for (let i = 0; i < 500; i++) {
    const c = await childPid(sup, 'a').catch(() => undefined);
    if (c !== undefined && c !== old) return c;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.fail('child a was not restarted');
}

describe('supervisor telemetry from core', () => {
  test('no span active: the restart is a span of its own with the exit and the restart as events; metrics per supervisor', async () => {
    assert.equal(eventBus(currentNode()).active, false, 'no observer nor any listener of supervisor events');
    const sup = await tree('tele-sup', 4);
    const old = await crash(sup, 'a');
    const now = await restarted(sup, old);

    const s = spans.getFinishedSpans().filter((x) => x.name === 'supervisor restart');
    assert.equal(s.length, 1);
    const span = s[0]!;
    assert.equal(span.kind, 0, 'INTERNAL');
    assert.equal(span.parentSpanContext, undefined, 'a root span');
    assert.equal(span.attributes['trellis.supervisor.name'], 'tele-sup');
    assert.equal(span.attributes['trellis.supervisor.pid'], String(sup));
    assert.equal(span.attributes['trellis.child.id'], 'a');
    assert.equal(span.attributes['trellis.restart.count'], 1);
    assert.deepEqual(
      span.events.map((e) => e.name),
      ['trellis.supervisor.child_exited', 'trellis.supervisor.child_restarted'],
    );
    const [exited, again] = span.events;
    assert.equal(exited!.attributes!['trellis.child.pid'], String(old));
    assert.equal(exited!.attributes!['exception.type'], 'Error');
    assert.equal(exited!.attributes!['exception.message'], 'crash a');
    assert.equal(again!.attributes!['trellis.child.pid'], String(now));
    assert.equal(again!.attributes!['trellis.child.old_pid'], String(old));
    assert.equal(again!.attributes!['trellis.restart.count'], 1);

    const { resourceMetrics } = await reader.collect();
    const r = points(resourceMetrics, 'trellis.supervisor.restarts').filter(
      (p) => p.attributes.supervisor === 'tele-sup',
    );
    assert.deepEqual(
      r.map((p) => [p.attributes.child, p.value]),
      [['a', 1]],
    );
    const g = points(resourceMetrics, 'trellis.supervisor.intensity').filter(
      (p) => p.attributes['supervisor.pid'] === String(sup),
    );
    assert.equal(g.length, 1);
    assert.equal(g[0]!.value, 1 / 4, 'one restart of the four allowed in the period');
    await stopSup(sup);
  });

  test('a span active where the supervisor runs: the restart is recorded as its events, no span of its own', async () => {
    const app = trace.getTracer('test').startSpan('app');
    const sup = await context.with(trace.setSpan(context.active(), app), () => tree('tele-active', 4));
    const old = await crash(sup, 'a');
    await restarted(sup, old);
    app.end();
    const finished = spans.getFinishedSpans();
    assert.deepEqual(
      finished.map((x) => x.name),
      ['app'],
      'no supervisor restart span while a span is active',
    );
    assert.deepEqual(
      finished[0]!.events.map((e) => [e.name, e.attributes?.['trellis.child.id']]),
      [
        ['trellis.supervisor.child_exited', 'a'],
        ['trellis.supervisor.child_restarted', 'a'],
      ],
    );
    await stopSup(sup);
  });

  test('a supervisor that gives up: a span with the intensity_reached event', async () => {
    const sup = await tree('tele-giveup', 0);
    const gone = new Promise((r) => currentNode().monitor(r, sup));
    await crash(sup, 'a');
    await gone;
    const s = spans.getFinishedSpans().find((x) => x.name === 'supervisor gives up');
    assert.ok(
      s,
      spans
        .getFinishedSpans()
        .map((x) => x.name)
        .join(','),
    );
    assert.equal(s.events[0]!.name, 'trellis.supervisor.intensity_reached');
    assert.equal(s.events[0]!.attributes!['trellis.supervisor.intensity'], 0);
    assert.equal(s.attributes['trellis.supervisor.name'], 'tele-giveup');
  });
});
