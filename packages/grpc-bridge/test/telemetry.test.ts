/**
 * Traces, metrics and logs of a pool, with OpenTelemetry's in-memory exporters on both sides: the
 * host's SDK here (a devDependency; the library itself uses @opentelemetry/api only), Python's SDK
 * inside the worker (test/fixtures/otel_tools.py), whose finished spans a tool reports back.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createMemoryLogger, setLogger } from '@trellis/core';
import { ToolPool, type WorkerLogRecord } from '../src/index.js';
import { openTestRun, type TestRun, waitFor } from './helpers.js';

const OTEL_TOOLS = new URL('../../test/fixtures/otel_tools.py', import.meta.url).pathname;
const TELEMETRY_TOOLS = new URL('../../test/fixtures/telemetry_tools.py', import.meta.url).pathname;

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

/** Every record the pool logs, as the app's own logger (setLogger) receives them. */
const log = createMemoryLogger();
const logged = log.records;

let run: TestRun;

before(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  setLogger(log);
  run = await openTestRun();
});

after(async () => {
  await run.close();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

interface PySpan {
  name: string;
  trace_id: string;
  span_id: string;
  parent_id: string;
}

test('a Python span is a child of the host call span, with the same trace id (sync and async tools)', async () => {
  const pool = await ToolPool.start({ tools: OTEL_TOOLS, size: 1, name: 'otel', concurrency: 2 });
  try {
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('request', async (root) => {
      assert.equal(await pool.call('traced_sync', { n: 1 }), 2);
      assert.equal(await pool.call('traced_async', { n: 2 }), 4);
      root.end();
    });
    const py = (await pool.call('finished_spans')) as PySpan[];
    const host = spans.getFinishedSpans();
    const root = host.find((s) => s.name === 'request')!;
    for (const [tool, inner] of [
      ['traced_sync', 'inner-sync'],
      ['traced_async', 'inner-async'],
    ] as const) {
      const call = host.find((s) => s.name === `otel/${tool}`);
      assert.ok(call, `host call span of ${tool}`);
      assert.equal(call.parentSpanContext?.spanId, root.spanContext().spanId, 'call span under the caller');
      assert.equal(call.attributes['trellis.tool'], tool);
      const server = py.find((s) => s.name === `tool ${tool}`);
      assert.ok(server, `Python span of ${tool} (got ${py.map((s) => s.name).join(', ')})`);
      assert.equal(server.trace_id, call.spanContext().traceId, 'same trace id');
      assert.equal(
        server.parent_id,
        call.spanContext().spanId,
        'Python span is a child of the host call span',
      );
      const own = py.find((s) => s.name === inner);
      assert.ok(own, `the tool's own span ${inner}`);
      assert.equal(own.parent_id, server.span_id, "the tool's span nests under the call");
      assert.equal(own.trace_id, call.spanContext().traceId);
    }
    // ctx.span with Python's SDK recording is a Python span, under the tool's own span.
    const ctxSpan = py.find((s) => s.name === 'ctx-span');
    assert.ok(ctxSpan);
    assert.equal(ctxSpan.parent_id, py.find((s) => s.name === 'inner-async')!.span_id);
  } finally {
    await pool.stop();
  }
});

test('ctx.metric and ctx.span reach the host: metrics on its meter, spans under the call span', async () => {
  const pool = await ToolPool.start({ tools: TELEMETRY_TOOLS, size: 1, name: 'tele' });
  try {
    spans.reset();
    assert.equal(await pool.call('measured', { rows: 7 }), 7);
    assert.equal(await pool.call('failing_span'), 'ok');
    const host = spans.getFinishedSpans();
    const call = host.find((s) => s.name === 'tele/measured')!;
    assert.ok(call, 'host call span');
    const parse = host.find((s) => s.name === 'parse');
    const validate = host.find((s) => s.name === 'validate');
    assert.ok(parse && validate, `spans from Python (got ${host.map((s) => s.name).join(', ')})`);
    assert.equal(parse.parentSpanContext?.spanId, call.spanContext().spanId);
    assert.equal(parse.spanContext().traceId, call.spanContext().traceId);
    assert.equal(validate.parentSpanContext?.spanId, parse.spanContext().spanId);
    assert.equal(parse.attributes.rows, '7');
    const doomed = host.find((s) => s.name === 'doomed')!;
    assert.equal(doomed.status.code, 2, 'a span whose block raised is an error');
    assert.match(doomed.status.message ?? '', /ValueError: bad row/);

    const { resourceMetrics } = await reader.collect();
    const rows = points(resourceMetrics, 'rows_parsed');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.value, 7);
    assert.deepEqual(rows[0]!.attributes, {
      format: 'csv',
      'trellis.pool': 'tele',
      'trellis.tool': 'measured',
    });
    const hist = points(resourceMetrics, 'parse_seconds');
    assert.equal((hist[0]!.value as Histogram).count, 1);
    // The pool's own instruments.
    const dur = points(resourceMetrics, 'trellis.tool.duration').find(
      (p) => p.attributes['trellis.tool'] === 'measured' && p.attributes.outcome === 'ok',
    );
    assert.ok(dur, 'duration histogram of measured');
    assert.equal((dur.value as Histogram).count, 1);
    const rss = points(resourceMetrics, 'trellis.worker.memory.rss').filter(
      (p) => p.attributes['trellis.pool'] === 'tele',
    );
    assert.equal(rss.length, 1);
    assert.ok((rss[0]!.value as number) > 1_000_000, 'RSS of the Python worker');
  } finally {
    await pool.stop();
  }
});

test('ctx.log and stderr reach the host logger as structured records; a death and restart are logged', async () => {
  const pool = await ToolPool.start({ tools: TELEMETRY_TOOLS, size: 1, name: 'logs' });
  const tail: WorkerLogRecord[] = [];
  const off = pool.onLog((r) => tail.push(r));
  try {
    logged.length = 0;
    const pid = pool.stats().workers[0]!.pid;
    await pool.call('chatty', { n: 5 });
    await waitFor(() => logged.some((l) => l.msg === 'plain stderr line 5'), 'stderr line logged');
    const info = logged.find((l) => l.msg === 'processing 5 items')!;
    assert.ok(info, 'ctx.log.info reached the logger');
    assert.equal(info.level, 'info');
    assert.equal(info.fields.pool, 'logs');
    assert.equal(info.fields.worker, 0);
    assert.equal(info.fields.workerPid, pid);
    assert.equal(info.fields.tool, 'chatty');
    assert.match(String(info.fields.callId), /^logs-\d+$/);
    assert.equal(info.fields.source, 'python');
    assert.equal(logged.find((l) => l.msg === 'item 5 looks odd')?.level, 'warn');
    const plain = logged.find((l) => l.msg === 'plain stderr line 5')!;
    assert.equal(plain.fields.source, 'stderr');
    assert.equal(plain.fields.workerPid, pid);
    assert.ok(
      tail.some((r) => r.msg === 'processing 5 items' && r.tool === 'chatty'),
      'log listeners get it too',
    );

    await assert.rejects(pool.call('crash'), { code: 'ERR_WORKER_EXITED' });
    await waitFor(() => logged.some((l) => /restarted as pid/.test(l.msg ?? '')), 'restart logged');
    const died = logged.find((l) => l.fields.source === 'pool' && /exited with code 3/.test(l.msg ?? ''));
    assert.ok(died, `death logged (got ${logged.map((l) => l.msg).join(' | ')})`);
    assert.equal(died.level, 'warn');
    assert.equal(died.fields.workerPid, pid);
    const w = pool.stats().workers[0]!;
    assert.equal(w.restarts, 1);
    assert.match(w.lastExit ?? '', /exited with code 3/);
  } finally {
    off();
    await pool.stop();
  }
});

function points(rm: ResourceMetrics, name: string): DataPoint<unknown>[] {
  for (const sm of rm.scopeMetrics)
    for (const m of sm.metrics) if (m.descriptor.name === name) return m.dataPoints as DataPoint<unknown>[];
  return [];
}

test('a health monitor needs nothing but beat(pid): each worker actor beats on its heartbeats', async () => {
  const beats: string[] = [];
  const pool = await ToolPool.start({
    tools: TELEMETRY_TOOLS,
    size: 2,
    name: 'beats',
    heartbeatIntervalMs: 50,
    healthMonitor: { beat: (pid) => beats.push(pid) },
  });
  try {
    const actors = pool.stats().workers.map((w) => w.actorPid!);
    assert.equal(actors.length, 2);
    await waitFor(() => actors.every((a) => beats.includes(a)), 'a beat from each worker actor');
    for (const w of pool.stats().workers) assert.ok((w.lastHeartbeatAt ?? 0) > 0, 'stats show the heartbeat');
  } finally {
    await pool.stop();
  }
});

test('a stderr flood and a huge line: every line is a record, none over 16 KiB, the worker serves on', async () => {
  const pool = await ToolPool.start({ tools: TELEMETRY_TOOLS, size: 1, name: 'flood' });
  try {
    logged.length = 0;
    assert.equal(await pool.call('flood', { lines: 2000, huge: 200_000 }), 2000);
    await waitFor(
      () => logged.some((l) => l.fields.pool === 'flood' && (l.msg ?? '').startsWith('HHHH')),
      'the huge line',
    );
    const lines = logged.filter((l) => l.fields.pool === 'flood' && /^flood line \d+$/.test(l.msg ?? ''));
    assert.equal(lines.length, 2000, 'one record per line');
    const huge = logged.find((l) => (l.msg ?? '').startsWith('HHHH'))!;
    assert.ok(huge.msg!.length <= 16 * 1024 + 1, `cut to 16 KiB (${huge.msg!.length})`);
    assert.equal(await pool.call('chatty', { n: 1 }), 1);
  } finally {
    await pool.stop();
  }
});
