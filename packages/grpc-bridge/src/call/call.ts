/**
 * The seam every tool call passes, unary or stream: `Call.run(driver)` owns
 * admit → acquire → execute → retry once → settle, in that order, in one method.
 *
 * A `Call` is one call's life in the pool. The two drivers (unary.ts, stream.ts) only differ in how
 * they execute on a worker (one response, or items with backpressure); everything around that is
 * here, once:
 *   admit    the request is checked and encoded (prep.ts), then the tool's quarantine, the pool's
 *            circuit breaker and the call's session are consulted;
 *   acquire  a worker with a free place, at once or after waiting in the pool's queue
 *            (pool/dispatcher.ts);
 *   execute  the driver's RPC on that worker; the driver turns a failed attempt into the call's
 *            error with errors.ts;
 *   retry    a call whose worker died (or refused it while draining) runs once more on another
 *            worker, at the front of the queue, within the same overall budget;
 *   settle   exactly once per call: counters, the worker's counts, the call metric, the circuit
 *            breaker, the span's end and the closing event (call_finished or call_failed, with
 *            ERR_UNKNOWN for an error without a code).
 *
 * Why one method and not admit(), acquire(), settle() called by each driver: a reader (and a
 * debugger) follows a call from the pool to the worker and back in one place, entering each file
 * once (pool → here → prep → dispatcher → driver → errors, then back here to settle), instead of
 * going back and forth between the driver and the seam for every step. The call's span and the
 * call family of pool events live here for the same reason: this is the only place that reports a
 * call. A Call is a handful of fields per call on a path that costs a round trip to Python;
 * `pnpm bench bridge` measures it.
 */
import { Metadata } from '@grpc/grpc-js';
import { type Context, context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { NodeDownError, NodeUnreachableError } from '@trellis/core';
import { CircuitOpenError, ToolCallError, ToolQuarantinedError, WorkerExitedError } from '../errors.js';
import type { ToolArgs } from '../payload.js';
import type { PlaceRequest, PoolWorker } from '../pool/dispatcher.js';
import { errorCode, type PoolEventInput } from '../pool/events.js';
import type { AffinityMode, CallOptions } from '../pool/options.js';
import type { PoolRuntime } from '../pool/runtime.js';
import { mayHaveRun, retryExclusions } from './errors.js';
import { type PreparedCall, prepareCall } from './prep.js';

/**
 * How a call runs on one worker: unary.ts (one response) or stream.ts (items with backpressure).
 * `execute` runs one attempt on `w`, whose place the call holds, gives the place back when the
 * attempt ends, and resolves with the result or rejects with the attempt's error (made by
 * errors.ts: `rpcFailure`, `unavailable`, `workerExited`).
 */
export interface CallDriver<R> {
  execute(c: Call, w: PoolWorker): Promise<R>;
  /** False once part of the answer reached the caller (a stream's item): no retry then. */
  retryable(): boolean;
  /**
   * Resolves when the caller no longer wants the call (a stream's consumer left). A call still
   * waiting for its worker then settles at once; the place it is given later goes straight back.
   */
  readonly left?: Promise<undefined>;
}

/**
 * A call's span, through `@opentelemetry/api` only: the library records, the application chooses
 * (and installs) the SDK and the exporter. Its W3C trace context travels to the worker as gRPC
 * metadata or in the lane's LaneCall (`traceparent`, and `tracestate` when set), so the Python side
 * continues the trace (see trellis_worker/telemetry.py).
 */
export interface CallSpan {
  readonly span: Span;
  /** The gRPC metadata to send with the call's RPCs (traceparent, tracestate). */
  readonly metadata: Metadata;
  /** The context whose active span is the call's: parent of the spans a tool sends back. */
  readonly context: Context;
}

// The package's own tracer: a ProxyTracer, so a TracerProvider registered later is used at once.
const tracer = trace.getTracer('@trellis/grpc-bridge');

export class Call {
  readonly rt: PoolRuntime;
  readonly tool: string;
  readonly callId: string;
  /** When the call began (clock.now()). */
  readonly t0: number;
  readonly #method: 'Execute' | 'ExecuteStream';
  /** Set by run()'s admit step; a driver executes only after it. */
  p!: PreparedCall;
  /**
   * The call's span: undefined without a trace context (no SDK registered and no sampled parent:
   * without a TracerProvider the API hands out non-recording spans, and such a call costs nothing
   * more than that).
   */
  span: CallSpan | undefined;

  constructor(rt: PoolRuntime, tool: string, method: 'Execute' | 'ExecuteStream') {
    this.rt = rt;
    this.tool = tool;
    this.#method = method;
    this.t0 = rt.o.clock.now();
    this.callId = rt.nextCallId();
    rt.counters.started++;
  }

  /**
   * The call, from admission to its settled outcome: resolves with the driver's result, or rejects
   * with the call's error (a refusal, the queue's, or the last attempt's).
   */
  async run<R>(args: ToolArgs, opts: CallOptions, driver: CallDriver<R>): Promise<R> {
    const rt = this.rt;
    const tool = this.tool;
    const clock = rt.o.clock;
    this.span = this.#startSpan();
    /** The worker of the current attempt, once acquired (call_finished and call_failed name it). */
    let w: PoolWorker | undefined;
    /** Admitted calls feed the circuit breaker; a refused one must not (it never ran). */
    let admitted = false;
    let result: R | undefined;
    let failed = false;
    let error: unknown;
    try {
      // ---- admit: check and encode, then the tool's quarantine, the breaker, the session ----------
      const p = prepareCall(rt, tool, args, opts, this.#method === 'ExecuteStream', this.t0, this.callId);
      this.p = p;
      const now = clock.now();
      const q = rt.quarantine;
      if (q !== undefined) {
        const left = q.refusedFor(tool, now);
        if (left > 0)
          throw new ToolQuarantinedError(rt.name, tool, q.options.crashes, q.options.windowMs, left);
      }
      const b = rt.breaker;
      if (b !== undefined) {
        const left = b.admit(now);
        if (left > 0) throw new CircuitOpenError(rt.name, tool, b.failuresWhenOpened, left);
      }
      const session = opts.sessionId === undefined ? undefined : rt.sessions.touch(opts.sessionId, now);
      const affinity: AffinityMode | undefined =
        session === undefined ? undefined : (opts.affinity ?? session.affinity ?? rt.o.affinity);
      admitted = true;
      let attempt = 0;
      let exclude: Set<number> | undefined;
      for (;;) {
        // ---- acquire: a worker with a free place, at once or after waiting in the queue ---------
        const req: PlaceRequest = { tool, sessionId: opts.sessionId, attempt, exclude, session, affinity };
        w = rt.dispatcher.tryAcquire(req);
        if (w === undefined) {
          rt.dispatcher.checkAffinity(req);
          const queued = rt.dispatcher.enqueue(req, {
            waitMs: Math.min(rt.o.queueTimeoutMs, p.deadline - clock.now()),
            limitMs: Math.min(rt.o.queueTimeoutMs, p.timeoutMs),
            signal: p.signal,
            front: attempt > 0,
          });
          w = driver.left === undefined ? await queued : await Promise.race([queued, driver.left]);
          if (w === undefined) {
            // The stream's consumer left while the call waited: it ends now, as a success without
            // a worker; the place it is given later goes straight back.
            queued.then(
              (given) => rt.dispatcher.release(given),
              () => {},
            );
            break;
          }
        }
        const queuedMs = clock.now() - this.t0;
        this.span?.span.setAttributes({
          'trellis.worker.slot': w.slot,
          'trellis.worker.pid': w.pid,
          'trellis.attempt': attempt,
          'trellis.queued_ms': queuedMs,
        });
        this.#emit({
          type: 'call_started',
          callId: this.callId,
          tool,
          workerId: w.id,
          pid: w.pid,
          queuedMs,
          attempt,
        });
        // ---- execute, and retry once -------------------------------------------------------------
        try {
          result = await driver.execute(this, w);
          break;
        } catch (e) {
          // A worker death (or a refusal while it drained, which means the tool never ran) of a
          // first attempt, with budget left and nothing delivered yet: once more, on another worker,
          // at the front of the queue.
          // A call that may have run on a lost node (ERR_NODE_DOWN, ERR_NODE_UNREACHABLE) moves only
          // when idempotent: it must never run twice. A draining local worker refuses new calls (the
          // tool never ran), so even a non-idempotent call may move; not one whose lane or
          // connection broke under it (cut at the end of the drain grace: it ran), and not a remote
          // one, whose transport failing may be its node dying mid-call.
          const again =
            attempt === 0 &&
            driver.retryable() &&
            (e instanceof WorkerExitedError || e instanceof NodeDownError || e instanceof NodeUnreachableError
              ? p.idempotent
              : e instanceof ToolCallError &&
                e.code === 'ERR_WORKER_UNAVAILABLE' &&
                (p.idempotent ||
                  (w.state === 'draining' && w.process.node === undefined && !mayHaveRun(e.cause)))) &&
            clock.now() < p.deadline;
          if (!again) throw e;
          exclude = retryExclusions(rt.dispatcher.workers(), w, e);
          attempt = 1;
          rt.counters.retried++;
          const code = errorCode(e);
          this.span?.span.addEvent('trellis.retry', {
            'trellis.error.code': code,
            'trellis.worker.pid': w.pid,
          });
          this.#emit({ type: 'call_retried', callId: this.callId, tool, fromWorkerId: w.id, code });
        }
      }
    } catch (e) {
      failed = true;
      error = e;
    }
    // ---- settle: exactly once, whatever the outcome -----------------------------------------------
    const ms = clock.now() - this.t0;
    // Counted by its code; an error without one as ERR_UNKNOWN.
    const code = error === undefined ? undefined : errorCode(error);
    if (code === undefined) {
      if (w !== undefined) {
        w.served++;
        w.latency.add(ms);
      }
      rt.counters.ok(ms);
    } else {
      if (w !== undefined) w.failed++;
      rt.counters.fail(code, undefined);
    }
    rt.metrics.call(tool, ms, code);
    const cs = this.span;
    if (cs !== undefined) {
      if (code !== undefined) {
        if ((error as { code?: unknown }).code === code) cs.span.setAttribute('trellis.error.code', code);
        cs.span.recordException(error instanceof Error ? error : String(error));
        cs.span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      cs.span.end();
    }
    const b = rt.breaker;
    if (admitted && b !== undefined) {
      const changed = b.record(code, clock.now());
      if (changed !== undefined) rt.events.pool.circuitChanged(changed);
    }
    if (code !== undefined)
      this.#emit({
        type: 'call_failed',
        callId: this.callId,
        tool,
        workerId: w?.id,
        pid: w?.pid,
        durationMs: ms,
        code,
        message: (error as Error).message,
      });
    else if (w !== undefined)
      this.#emit({
        type: 'call_finished',
        callId: this.callId,
        tool,
        workerId: w.id,
        pid: w.pid,
        durationMs: ms,
      });
    if (failed) throw error;
    return result as R;
  }

  /** The call family of pool events, built only when a user listens. */
  #emit(e: PoolEventInput): void {
    if (this.rt.events.callsActive) this.rt.events.emit(e);
  }

  /**
   * Starts the call's span (a child of the caller's active span), or undefined when neither it nor
   * its parent carries a valid trace context (no SDK, nothing to propagate).
   */
  #startSpan(): CallSpan | undefined {
    const pool = this.rt.name;
    const span = tracer.startSpan(`${pool}/${this.tool}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': 'trellis.bridge.v1.ToolService',
        'rpc.method': this.#method,
        'trellis.pool': pool,
        'trellis.tool': this.tool,
        'trellis.call_id': this.callId,
      },
    });
    const sc = span.spanContext();
    if (!span.isRecording() && !trace.isSpanContextValid(sc)) return undefined;
    const metadata = new Metadata();
    // The W3C header is written by hand: its format is one line of the spec, and the propagator
    // that writes it lives in @opentelemetry/core, an SDK package a library must not require.
    metadata.set('traceparent', `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`);
    const state = sc.traceState?.serialize();
    if (state) metadata.set('tracestate', state);
    return { span, metadata, context: trace.setSpan(context.active(), span) };
  }
}
