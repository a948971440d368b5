/**
 * `pool.stream(tool, args)`: the items of a generator tool as an async iterator, with backpressure.
 *
 * The call starts at the first `next()` (an iterator nobody reads takes no worker). Items are
 * buffered up to `highWaterMark`; then the gRPC stream is paused, grpc-js stops reading from the
 * HTTP/2 stream, flow control fills, and the Python generator blocks on its next yield. Reading
 * below half the mark resumes it. Leaving the loop early (`break`, `return()`) cancels the call:
 * Python's generator is closed (GeneratorExit / CancelledError).
 *
 * Items received before a failure are delivered first, then the error. A worker that dies before
 * the first item lets an idempotent call retry once on another worker, like a unary call; after
 * an item has been delivered there is no retry (the consumer has seen part of the stream).
 */
import { type ClientReadableStream, type ServiceError, status } from '@grpc/grpc-js';
import type { TrellisError } from '@trellis/core';
import type { ExecuteStreamResponse__Output } from '../generated/trellis/bridge/v1/ExecuteStreamResponse.js';
import { decodePayload, type ToolArgs } from '../payload.js';
import type { InFlightCall, WorkerEntry } from '../pool/dispatcher.js';
import type { StreamOptions } from '../pool/options.js';
import type { PoolRuntime } from '../pool/runtime.js';
import type { Session } from '../pool/sessions.js';
import { mapCallError, TRANSPORT, unavailable } from './errors.js';
import { admitCall, recordOutcome, slotRequest } from './gate.js';
import { type PreparedCall, prepareCall } from './prep.js';
import { shouldRetry, waitForWorker, workerExited } from './unary.js';

interface Waiter {
  resolve: (r: IteratorResult<unknown>) => void;
  reject: (e: unknown) => void;
}

export class ToolStream<T = unknown> implements AsyncIterableIterator<T> {
  readonly #rt: PoolRuntime;
  readonly #tool: string;
  readonly #args: ToolArgs;
  readonly #opts: StreamOptions;
  readonly #hwm: number;
  #p: PreparedCall | undefined;
  #started = false;
  #t0 = 0;
  #callId = '';
  #items: unknown[] = [];
  #head = 0;
  #waiters: Waiter[] = [];
  /** No more items will arrive; `#error` (if set) is thrown after the buffered items. */
  #finished = false;
  #error: unknown;
  #worker: WorkerEntry | undefined;
  #call: ClientReadableStream<ExecuteStreamResponse__Output> | undefined;
  #flight: InFlightCall | undefined;
  #session: Session | undefined;
  #admitted = false;
  #paused = false;
  #received = 0;
  #attempt = 0;
  #exclude: Set<number> | undefined;
  #aborted = false;
  #cancelledByConsumer = false;
  /** The current call ended by deadline or cancellation: its tool may still hold its slot. */
  #suspect = false;
  #onAbort: (() => void) | undefined;
  #attributionTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(rt: PoolRuntime, tool: string, args: ToolArgs, opts: StreamOptions) {
    this.#rt = rt;
    this.#tool = tool;
    this.#args = args;
    this.#opts = opts;
    this.#hwm = opts.highWaterMark ?? rt.o.streamHighWaterMark;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (!this.#started) this.#start();
    if (this.#head < this.#items.length) return Promise.resolve({ value: this.#take() as T, done: false });
    if (this.#finished) return this.#endResult() as Promise<IteratorResult<T>>;
    return new Promise((resolve, reject) =>
      this.#waiters.push({ resolve: resolve as Waiter['resolve'], reject }),
    );
  }

  /** Stops reading: cancels the call (Python's generator is closed) and ends the iteration. */
  return(): Promise<IteratorResult<T>> {
    this.cancel();
    return Promise.resolve({ value: undefined as T, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.cancel();
    return Promise.reject(err);
  }

  /** Cancels the stream from the consumer's side; buffered items are dropped. */
  cancel(): void {
    if (!this.#started) {
      this.#started = true;
      this.#finished = true;
      return;
    }
    if (this.#finished) return;
    this.#cancelledByConsumer = true;
    if (this.#call !== undefined) this.#suspect = true;
    this.#items = [];
    this.#head = 0;
    this.#call?.cancel();
    this.#finish(undefined);
  }

  // ---- start ---------------------------------------------------------------------------------------

  #start(): void {
    this.#started = true;
    const rt = this.#rt;
    this.#t0 = rt.o.clock.now();
    this.#callId = rt.nextCallId();
    rt.counters.started++;
    try {
      this.#p = prepareCall(rt, this.#tool, this.#args, this.#opts, true, this.#t0, this.#callId);
      this.#session = admitCall(rt, this.#tool, this.#opts);
      this.#admitted = true;
    } catch (e) {
      this.#finish(e);
      return;
    }
    if (this.#p.signal) {
      this.#onAbort = () => {
        this.#aborted = true;
        this.#call?.cancel();
      };
      this.#p.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    void this.#open();
  }

  async #open(): Promise<void> {
    const rt = this.#rt;
    const p = this.#p!;
    const req = slotRequest(rt, p.tool, this.#opts, this.#session, this.#attempt, this.#exclude);
    let w: WorkerEntry;
    try {
      let got = rt.dispatcher.tryAcquire(req);
      if (got === undefined) {
        rt.dispatcher.checkAffinity(req);
        got = await waitForWorker(rt, p, req, this.#attempt);
      }
      w = got;
    } catch (e) {
      this.#finish(e);
      return;
    }
    if (this.#finished) {
      rt.dispatcher.release(w);
      return;
    }
    this.#worker = w;
    if (rt.events.active) {
      rt.events.emit({
        type: 'call_started',
        callId: this.#callId,
        tool: p.tool,
        workerId: w.id,
        pid: w.pid,
        queuedMs: rt.o.clock.now() - this.#t0,
        attempt: this.#attempt,
      });
    }
    const left = p.deadline - rt.o.clock.now();
    const call = w.client.ExecuteStream(
      p.request,
      Number.isFinite(left) ? { deadline: new Date(Date.now() + Math.max(1, left)) } : {},
    );
    this.#call = call;
    const flight: InFlightCall = {
      tool: p.tool,
      onWorkerExit: (exit) => this.#failed(workerExited(exit, p, w), w, call),
    };
    this.#flight = flight;
    w.calls.add(flight);
    call.on('data', (m: ExecuteStreamResponse__Output) => {
      if (this.#call !== call || this.#finished) return;
      this.#received++;
      let item: unknown;
      try {
        item = decodePayload(m.item, p.raw);
      } catch (e) {
        call.cancel();
        this.#failed(e, w, call);
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter) {
        waiter.resolve({ value: item, done: false });
        return;
      }
      this.#items.push(item);
      if (!this.#paused && this.#items.length - this.#head >= this.#hwm) {
        this.#paused = true;
        call.pause();
      }
    });
    // push(null) precedes 'error' in grpc-js, so 'end' follows the last buffered item either way.
    call.on('end', () => {
      if (this.#call !== call || this.#finished) return;
      // A transport failure is settled by the worker's exit or the attribution timer, never as a
      // clean end: a stream cut short by a dying worker must not look complete.
      if (this.#attributionTimer !== undefined) return;
      if (this.#pendingError !== undefined) this.#failed(this.#pendingError, w, call);
      else this.#finish(undefined);
    });
    call.on('error', (err: ServiceError) => {
      if (this.#call !== call || this.#finished || this.#cancelledByConsumer) return;
      const mapped = mapCallError(err, {
        tool: p.tool,
        workerPid: w.pid,
        timeoutMs: p.timeoutMs,
        maxMessageBytes: rt.o.maxMessageBytes,
        aborted: this.#aborted,
        abortReason: p.signal?.reason,
      });
      if (mapped !== TRANSPORT) {
        this.#pendingError = mapped;
        this.#suspect = err.code === status.DEADLINE_EXCEEDED || err.code === status.CANCELLED;
        return;
      }
      const exit = w.process.exit;
      if (exit !== undefined) {
        this.#failed(workerExited(exit, p, w), w, call);
        return;
      }
      // The connection dropped before the exit event: give the exit a moment to be reported.
      this.#attributionTimer = setTimeout(
        () => this.#failed(unavailable(err, p.tool, w.pid), w, call),
        rt.o.exitAttributionMs,
      );
    });
  }

  #pendingError: unknown;

  /** A failure on `call`: retried once when nothing was delivered yet, else the stream's end. */
  #failed(e: unknown, w: WorkerEntry, call: ClientReadableStream<ExecuteStreamResponse__Output>): void {
    if (this.#call !== call || this.#finished) return;
    const p = this.#p!;
    if (
      this.#received === 0 &&
      this.#attempt === 0 &&
      shouldRetry(e, p, w) &&
      this.#rt.o.clock.now() < p.deadline
    ) {
      this.#detach();
      call.cancel();
      this.#attempt = 1;
      this.#exclude ??= new Set();
      this.#exclude.add(w.id);
      this.#rt.counters.retried++;
      if (this.#rt.events.active) {
        this.#rt.events.emit({
          type: 'call_retried',
          callId: this.#callId,
          tool: p.tool,
          fromWorkerId: w.id,
          code: (e as TrellisError).code,
        });
      }
      void this.#open();
      return;
    }
    call.cancel();
    this.#finish(e);
  }

  /** Forgets the current call and gives its slot back. */
  #detach(): void {
    const w = this.#worker;
    if (this.#attributionTimer !== undefined) clearTimeout(this.#attributionTimer);
    this.#attributionTimer = undefined;
    this.#pendingError = undefined;
    if (w !== undefined) {
      if (this.#flight) w.calls.delete(this.#flight);
      this.#rt.dispatcher.release(w, this.#suspect);
    }
    this.#suspect = false;
    this.#worker = undefined;
    this.#flight = undefined;
    this.#call = undefined;
  }

  // ---- end -----------------------------------------------------------------------------------------

  #finish(err: unknown): void {
    if (this.#finished) return;
    const w = this.#worker;
    this.#detach();
    this.#finished = true;
    this.#error = err;
    const p = this.#p;
    if (p?.signal && this.#onAbort) p.signal.removeEventListener('abort', this.#onAbort);
    const rt = this.#rt;
    const ms = rt.o.clock.now() - this.#t0;
    if (err === undefined) {
      if (w !== undefined) w.served++;
      rt.counters.ok(ms);
      if (this.#admitted && rt.breaker !== undefined) recordOutcome(rt, undefined);
      if (rt.events.active && w !== undefined) {
        rt.events.emit({
          type: 'call_finished',
          callId: this.#callId,
          tool: this.#tool,
          workerId: w.id,
          pid: w.pid,
          durationMs: ms,
        });
      }
    } else {
      const code = (err as { code?: unknown }).code;
      rt.counters.fail(typeof code === 'string' ? code : 'ERR_UNKNOWN', undefined);
      if (this.#admitted && rt.breaker !== undefined)
        recordOutcome(rt, typeof code === 'string' ? code : 'ERR_UNKNOWN');
      if (rt.events.active) {
        rt.events.emit({
          type: 'call_failed',
          callId: this.#callId,
          tool: this.#tool,
          workerId: w?.id,
          pid: w?.pid,
          durationMs: ms,
          code: typeof code === 'string' ? code : 'ERR_UNKNOWN',
          message: (err as Error).message,
        });
      }
    }
    // Waiters exist only while the buffer is empty: they all get the end.
    for (const waiter of this.#waiters.splice(0)) {
      this.#endResult().then(waiter.resolve, waiter.reject);
    }
  }

  #endResult(): Promise<IteratorResult<unknown>> {
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      return Promise.reject(e);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  #take(): unknown {
    const v = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    const buffered = this.#items.length - this.#head;
    if (buffered === 0) {
      this.#items = [];
      this.#head = 0;
    }
    if (this.#paused && buffered <= this.#hwm >> 1) {
      this.#paused = false;
      this.#call?.resume();
    }
    return v;
  }
}
