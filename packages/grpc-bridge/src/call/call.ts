/**
 * The seam every tool call passes, unary or stream: admit → acquire → execute → retry once → settle.
 *
 * A `Call` is one call's life in the pool. The two drivers (unary.ts, stream.ts) only differ in how
 * they execute on a worker (one response, or items with backpressure); everything around that is
 * here, once:
 *   admit    the request is checked and encoded (prep.ts), then the tool's quarantine, the pool's
 *            circuit breaker and the call's session are consulted;
 *   acquire  a worker with a free place, at once or after waiting in the pool's queue;
 *   execute  the driver's RPC; a failed RPC is turned into the call's error by `rpcFailure`;
 *   retry    a call whose worker died (or refused it while draining) runs once more on another
 *            worker, at the front of the queue, within the same overall budget;
 *   settle   exactly once per call: counters, the circuit breaker, the call's closing event.
 *
 * Why one object and not shared helper functions: the bookkeeping of a call's outcome (counters,
 * breaker, events, the ERR_UNKNOWN fallback) was written twice, once per driver, and the two copies
 * had already started to differ. A Call is a handful of fields per call on a path that costs a gRPC
 * round trip (~0.5 ms); `pnpm bench bridge` measures it.
 */
import { type ServiceError, status } from '@grpc/grpc-js';
import { NodeDownError, NodeUnreachableError } from '@trellis/core';
import {
  CircuitOpenError,
  nodeLostError,
  ToolCallError,
  ToolQuarantinedError,
  type WorkerExit,
  WorkerExitedError,
  WorkerMemoryLimitError,
} from '../errors.js';
import type { ToolArgs } from '../payload.js';
import type { SlotRequest, WorkerEntry } from '../pool/dispatcher.js';
import { errorCode } from '../pool/events.js';
import type { AffinityMode, CallOptions } from '../pool/options.js';
import type { PoolRuntime } from '../pool/runtime.js';
import type { Session } from '../pool/sessions.js';
import { type CallSpan, endCallSpan, spanOnWorker, startCallSpan } from '../telemetry/call-span.js';
import { memoryExitError } from '../worker/memory-limit.js';
import { mapCallError, TRANSPORT, unavailable } from './errors.js';
import { type PreparedCall, prepareCall } from './prep.js';

/** How an RPC on a worker failed, once its cause is known. */
export interface RpcFailure {
  readonly error:
    | ToolCallError
    | WorkerExitedError
    | WorkerMemoryLimitError
    | NodeDownError
    | NodeUnreachableError;
  /** Ended by its deadline or a cancellation: the tool may not have stopped, and may hold its place. */
  readonly suspect: boolean;
}

export class Call {
  readonly rt: PoolRuntime;
  readonly tool: string;
  readonly callId: string;
  /** When the call began (clock.now()). */
  readonly t0: number;
  /** Set by admit(); a driver executes only after admit() returned. */
  p!: PreparedCall;
  /** The worker of the current attempt, once acquired (call_finished and call_failed name it). */
  worker: WorkerEntry | undefined;
  attempt = 0;
  #opts: CallOptions = {};
  #session: Session | undefined;
  #exclude: Set<number> | undefined;
  /** Admitted calls feed the circuit breaker; a refused one must not (it never ran). */
  #admitted = false;
  #settled = false;
  /** The call's span (undefined without a trace context: see telemetry/call-span.ts). */
  readonly span: CallSpan | undefined;

  constructor(rt: PoolRuntime, tool: string, method: 'Execute' | 'ExecuteStream') {
    this.rt = rt;
    this.tool = tool;
    this.t0 = rt.o.clock.now();
    this.callId = rt.nextCallId();
    rt.counters.started++;
    this.span = startCallSpan(rt.name, tool, this.callId, method);
  }

  // ---- admit -----------------------------------------------------------------------------------

  /** Checks and encodes the request, then refuses a quarantined tool or an open circuit. */
  admit(args: ToolArgs, opts: CallOptions, streaming: boolean): PreparedCall {
    const rt = this.rt;
    this.p = prepareCall(rt, this.tool, args, opts, streaming, this.t0, this.callId);
    this.#opts = opts;
    const now = rt.o.clock.now();
    const q = rt.quarantine;
    if (q !== undefined) {
      const left = q.refusedFor(this.tool, now);
      if (left > 0)
        throw new ToolQuarantinedError(rt.name, this.tool, q.options.crashes, q.options.windowMs, left);
    }
    const b = rt.breaker;
    if (b !== undefined) {
      const left = b.admit(now);
      if (left > 0) throw new CircuitOpenError(rt.name, this.tool, b.failuresWhenOpened, left);
    }
    this.#session = opts.sessionId === undefined ? undefined : rt.sessions.touch(opts.sessionId, now);
    this.#admitted = true;
    return this.p;
  }

  // ---- acquire ---------------------------------------------------------------------------------

  /** A worker for this attempt with a free place, taken: at once, or after waiting in the queue. */
  async acquire(): Promise<WorkerEntry> {
    const rt = this.rt;
    this.worker = undefined;
    const req = this.#request();
    let w = rt.dispatcher.tryAcquire(req);
    if (w === undefined) {
      rt.dispatcher.checkAffinity(req);
      const p = this.p;
      const left = p.deadline - rt.o.clock.now();
      w = await rt.dispatcher.enqueue(req, {
        waitMs: Math.min(rt.o.queueTimeoutMs, left),
        limitMs: Math.min(rt.o.queueTimeoutMs, p.timeoutMs),
        signal: p.signal,
        front: this.attempt > 0,
      });
    }
    return w;
  }

  /** The acquired worker runs this attempt from now on. */
  started(w: WorkerEntry): void {
    this.worker = w;
    if (this.span !== undefined)
      spanOnWorker(this.span, w.slot, w.pid, this.attempt, this.rt.o.clock.now() - this.t0);
    this.rt.events.call.started(this.callId, this.tool, w, this.rt.o.clock.now() - this.t0, this.attempt);
  }

  #request(): SlotRequest {
    const session = this.#session;
    const opts = this.#opts;
    const affinity: AffinityMode | undefined =
      session === undefined ? undefined : (opts.affinity ?? session.affinity ?? this.rt.o.affinity);
    return {
      tool: this.tool,
      sessionId: opts.sessionId,
      attempt: this.attempt,
      exclude: this.#exclude,
      session,
      affinity,
    };
  }

  // ---- execute: what a failed RPC means --------------------------------------------------------

  /**
   * The error of a failed RPC on `w`, or undefined when only the transport failed and the worker
   * has not been seen to exit: the caller then waits up to exitAttributionMs for the exit
   * (`exitAttributionMs` and `attributed()`), so that a dying worker still fails its calls with
   * ERR_WORKER_EXITED rather than a bare transport error.
   */
  rpcFailure(err: ServiceError, w: WorkerEntry, aborted: boolean): RpcFailure | undefined {
    const p = this.p;
    const mapped = mapCallError(err, {
      tool: p.tool,
      workerPid: w.pid,
      timeoutMs: p.timeoutMs,
      maxMessageBytes: this.rt.o.maxMessageBytes,
      aborted,
      abortReason: p.signal?.reason,
    });
    if (mapped !== TRANSPORT) {
      return {
        error: mapped,
        suspect: err.code === status.DEADLINE_EXCEEDED || err.code === status.CANCELLED,
      };
    }
    const exit = w.process.exit;
    if (exit !== undefined) return { error: this.workerExited(exit, w), suspect: false };
    return undefined;
  }

  /** The transport failed and no exit was reported within exitAttributionMs. */
  attributed(err: ServiceError, w: WorkerEntry): ToolCallError {
    return unavailable(err, this.tool, w.pid);
  }

  get exitAttributionMs(): number {
    return this.rt.o.exitAttributionMs;
  }

  /**
   * The error of a call whose worker's process exited under it. A worker the host killed for a
   * fault of its own says so: over its memory limit the call fails with ERR_WORKER_MEMORY_LIMIT
   * (and is not retried: it would take the next worker down too); after missed heartbeats with
   * ERR_WORKER_EXITED caused by ERR_HEARTBEAT_MISSED. Checked before `drained`: the actor's
   * terminate drains the entry while the kill's exit event is still on its way.
   */
  workerExited(
    exit: WorkerExit,
    w: WorkerEntry,
  ): WorkerExitedError | WorkerMemoryLimitError | NodeDownError | NodeUnreachableError {
    // The supervisor restarts the worker: the call's trace shows why it failed or moved.
    this.span?.span.addEvent('trellis.worker_exited', {
      'trellis.worker.pid': w.pid,
      'trellis.exit_code': exit.exitCode ?? -1,
      'trellis.signal': exit.signal ?? '',
    });
    // A worker lost with its node (issue 15): the node's error, retried only for an idempotent tool.
    if (exit.node !== undefined)
      return nodeLostError({ ...exit, node: exit.node }, this.tool, this.p.idempotent);
    const killed = w.process.killCause ?? memoryExitError(exit, w.process.maxRssMb, w.rssBytes);
    if (killed instanceof WorkerMemoryLimitError) return killed.forCall(this.tool);
    let why: string;
    if (killed !== undefined) {
      why = `the host killed it: ${killed.message}`;
      return new WorkerExitedError(exit, { tool: this.tool, why, cause: killed });
    }
    if (w.drained) {
      why = 'the worker was being shut down and the call did not finish within its drain grace (graceMs)';
    } else if (this.p.idempotent) {
      why = 'the call was idempotent but had already been retried once, or its budget ran out';
    } else {
      why =
        'the call was not retried because it is not idempotent (pass { idempotent: true } if running it twice is safe)';
    }
    return new WorkerExitedError(exit, { tool: this.tool, why });
  }

  // ---- retry once ------------------------------------------------------------------------------

  /**
   * True when the failed attempt on `w` is retried: a worker death (or a refusal while it drained,
   * which means the tool never ran) of a first attempt, with budget left. The next acquire() then
   * avoids `w` and goes to the front of the queue.
   */
  retry(e: unknown, w: WorkerEntry): boolean {
    if (this.attempt !== 0 || !this.#retryable(e, w) || this.rt.o.clock.now() >= this.p.deadline)
      return false;
    this.#exclude ??= new Set();
    this.#exclude.add(w.id);
    this.attempt = 1;
    this.rt.counters.retried++;
    this.span?.span.addEvent('trellis.retry', {
      'trellis.error.code': errorCode(e),
      'trellis.worker.pid': w.pid,
    });
    this.rt.events.call.retried(this.callId, this.tool, w.id, e);
    return true;
  }

  #retryable(e: unknown, w: WorkerEntry): boolean {
    if (e instanceof WorkerExitedError) return this.p.idempotent;
    // The call may have run on the lost node: a non-idempotent one must never run twice.
    if (e instanceof NodeDownError || e instanceof NodeUnreachableError) return this.p.idempotent;
    // A draining local worker refuses new calls (the tool never ran), so even a non-idempotent
    // call may move. Not a remote one: its transport failing may be its node dying mid-call.
    if (e instanceof ToolCallError && e.code === 'ERR_WORKER_UNAVAILABLE')
      return this.p.idempotent || (w.state === 'draining' && w.process.node === undefined);
    return false;
  }

  // ---- settle ----------------------------------------------------------------------------------

  /**
   * The call's outcome, exactly once: `undefined` for success, else its error. Counters, the
   * circuit breaker (admitted calls only) and the closing event (call_finished or call_failed).
   */
  settle(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const rt = this.rt;
    const ms = rt.o.clock.now() - this.t0;
    const w = this.worker;
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
    rt.metrics.call(this.tool, ms, code);
    if (this.span !== undefined) endCallSpan(this.span, error);
    const b = rt.breaker;
    if (this.#admitted && b !== undefined) {
      const changed = b.record(code, rt.o.clock.now());
      if (changed !== undefined) rt.events.pool.circuitChanged(changed);
    }
    if (code === undefined) {
      if (w !== undefined) rt.events.call.finished(this.callId, this.tool, w, ms);
    } else rt.events.call.failed(this.callId, this.tool, w, ms, error);
  }
}
