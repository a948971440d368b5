/**
 * A span per tool call, through `@opentelemetry/api` only: the library records, the application
 * chooses (and installs) the SDK and the exporter. Without a registered TracerProvider the API
 * hands out non-recording spans, and a call whose span carries no valid trace context costs
 * nothing more than that.
 *
 * The span's W3C trace context travels to the worker as gRPC metadata (`traceparent`, and
 * `tracestate` when set), so the Python side continues the trace (see trellis_worker/telemetry.py).
 */
import { Metadata } from '@grpc/grpc-js';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

// The package's own tracer: a ProxyTracer, so a TracerProvider registered later is used at once.
const tracer = trace.getTracer('@trellis/grpc-bridge');

export interface CallSpan {
  readonly span: Span;
  /** The gRPC metadata to send with the call's RPCs (traceparent, tracestate). */
  readonly metadata: Metadata;
}

/**
 * Starts the call's span (a child of the caller's active span), or undefined when neither it nor
 * its parent carries a valid trace context (no SDK, nothing to propagate).
 */
export function startCallSpan(
  pool: string,
  tool: string,
  callId: string,
  method: string,
): CallSpan | undefined {
  const span = tracer.startSpan(`${pool}/${tool}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      'rpc.system': 'grpc',
      'rpc.service': 'trellis.bridge.v1.ToolService',
      'rpc.method': method,
      'trellis.pool': pool,
      'trellis.tool': tool,
      'trellis.call_id': callId,
    },
  });
  const sc = span.spanContext();
  if (!span.isRecording() && !trace.isSpanContextValid(sc)) return undefined;
  const metadata = new Metadata();
  // The W3C header is written by hand: its format is one line of the spec, and the propagator that
  // writes it lives in @opentelemetry/core, an SDK package a library must not require.
  metadata.set('traceparent', `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`);
  const state = sc.traceState?.serialize();
  if (state) metadata.set('tracestate', state);
  return { span, metadata };
}

/** The worker that took the call (set on each attempt: a retry moves it). */
export function spanOnWorker(
  cs: CallSpan,
  slot: number,
  pid: number,
  attempt: number,
  queuedMs: number,
): void {
  cs.span.setAttributes({
    'trellis.worker.slot': slot,
    'trellis.worker.pid': pid,
    'trellis.attempt': attempt,
    'trellis.queued_ms': queuedMs,
  });
}

export function endCallSpan(cs: CallSpan, error: unknown): void {
  if (error !== undefined) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') cs.span.setAttribute('trellis.error.code', code);
    cs.span.recordException(error instanceof Error ? error : String(error));
    cs.span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  cs.span.end();
}

/** The context whose active span is the call's: parent of the spans a tool sends back. */
export function callContext(cs: CallSpan) {
  return trace.setSpan(context.active(), cs.span);
}
