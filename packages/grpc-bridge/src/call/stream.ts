/**
 * `pool.stream(tool, args)`: the items of a generator tool as an async iterator, with backpressure.
 * The stream driver over the Call seam (call.ts, whose `run` admits, acquires, retries and settles).
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
import type { ServiceError } from '@grpc/grpc-js';
import { WorkerExitedError } from '../errors.js';
import type { ExecuteStreamResponse__Output } from '../generated/trellis/bridge/v1/ExecuteStreamResponse.js';
import { decodePayload, type ToolArgs } from '../payload.js';
import type { InFlightCall, PoolWorker } from '../pool/dispatcher.js';
import type { StreamOptions } from '../pool/options.js';
import type { PoolRuntime } from '../pool/runtime.js';
import { recordToolTelemetry } from '../telemetry/tool-telemetry.js';
import { Call, type CallDriver } from './call.js';
import { exitWaitMs, rpcFailure, unavailable, workerExited } from './errors.js';

/** A running stream call: a gRPC ClientReadableStream, or a stream on the worker's call lane. */
interface StreamCall {
  on(event: 'data', listener: (m: ExecuteStreamResponse__Output) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (err: ServiceError) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  cancel(): void;
}

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
  #c: Call | undefined;
  #started = false;
  #items: unknown[] = [];
  #head = 0;
  #waiters: Waiter[] = [];
  /** No more items will arrive; `#error` (if set) is thrown after the buffered items. */
  #finished = false;
  #error: unknown;
  #worker: PoolWorker | undefined;
  #call: StreamCall | undefined;
  #flight: InFlightCall | undefined;
  #paused = false;
  #received = 0;
  #aborted = false;
  #cancelledByConsumer = false;
  /** The current call ended by deadline or cancellation: its tool may still hold its place. */
  #suspect = false;
  #onAbort: (() => void) | undefined;
  /** Resolves the driver's `left`: the consumer is gone (Call.run stops waiting for a worker). */
  #leave: () => void = () => {};
  /** The attempt Call.run awaits (execute's promise), while one runs. */
  #attempt: { resolve: (v: undefined) => void; reject: (e: unknown) => void } | undefined;
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
    this.#leave();
    this.#finish(undefined);
  }

  // ---- start ---------------------------------------------------------------------------------------

  #start(): void {
    this.#started = true;
    const c = new Call(this.#rt, this.#tool, 'ExecuteStream');
    this.#c = c;
    // The stream's side of the Call seam (CallDriver), kept private: a ToolStream's public face is
    // the async iterator.
    const driver: CallDriver<undefined> = {
      execute: (call, w) => new Promise<undefined>((resolve, reject) => this.#open(call, w, resolve, reject)),
      // Nothing delivered yet: a failed attempt may still be retried.
      retryable: () => this.#received === 0,
      left: new Promise<undefined>((resolve) => {
        this.#leave = () => resolve(undefined);
      }),
    };
    c.run(this.#args, this.#opts, driver).then(
      () => this.#finish(undefined),
      (e: unknown) => this.#finish(e),
    );
  }

  // ---- the driver: one ExecuteStream per attempt -----------------------------------------------------

  /** Opens the stream on `w`; the attempt ends when it ends (`resolve`) or fails (`reject`). */
  #open(c: Call, w: PoolWorker, resolve: (v: undefined) => void, reject: (e: unknown) => void): void {
    const rt = this.#rt;
    const p = c.p;
    if (this.#finished) {
      // The consumer left in the same turn as the worker was given: its place goes straight back.
      rt.dispatcher.release(w);
      resolve(undefined);
      return;
    }
    this.#attempt = { resolve, reject };
    if (p.signal && this.#onAbort === undefined) {
      this.#onAbort = () => {
        this.#aborted = true;
        this.#call?.cancel();
      };
      p.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#worker = w;
    const left = p.deadline - rt.o.clock.now();
    const callOptions = Number.isFinite(left) ? { deadline: new Date(Date.now() + Math.max(1, left)) } : {};
    const cs = c.span;
    // Over the worker's call lane when it has one (its credit window is the stream's highWaterMark;
    // the trace context travels in the LaneCall), else a gRPC stream carrying the traceparent as
    // metadata.
    const lane = w.process.lane;
    const call: StreamCall =
      lane?.usable === true
        ? lane.ExecuteStream(p.request, callOptions, this.#hwm, cs?.metadata)
        : cs === undefined
          ? w.client.ExecuteStream(p.request, callOptions)
          : w.client.ExecuteStream(p.request, cs.metadata, callOptions);
    this.#call = call;
    const flight: InFlightCall = {
      tool: p.tool,
      onWorkerExit: (exit) => this.#failed(workerExited(c, exit, w), call),
    };
    this.#flight = flight;
    w.calls.add(flight);
    call.on('data', (m: ExecuteStreamResponse__Output) => {
      if (this.#call !== call || this.#finished) return;
      this.#received++;
      if (m.telemetry) recordToolTelemetry(m.telemetry, rt.name, p.tool, cs?.context);
      let item: unknown;
      try {
        item = decodePayload(m.item, p.raw, p.tool);
      } catch (e) {
        call.cancel();
        this.#failed(e, call);
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
      if (this.#pendingError !== undefined) this.#failed(this.#pendingError, call);
      else this.#ended(undefined);
    });
    call.on('error', (err: ServiceError) => {
      if (this.#call !== call || this.#finished || this.#cancelledByConsumer) return;
      const failure = rpcFailure(c, err, w, this.#aborted);
      if (failure !== undefined) {
        if (failure.error instanceof WorkerExitedError) {
          this.#failed(failure.error, call);
          return;
        }
        this.#pendingError = failure.error;
        this.#suspect = failure.suspect;
        return;
      }
      // The connection dropped before the exit event: give the exit a moment to be reported.
      this.#attributionTimer = setTimeout(
        () => this.#failed(unavailable(err, p.tool, w.pid), call),
        exitWaitMs(rt, w),
      );
    });
  }

  #pendingError: unknown;

  /** A failure on `call`: the attempt ends with it (Call.run retries it or ends the stream). */
  #failed(e: unknown, call: StreamCall): void {
    if (this.#call !== call || this.#finished) return;
    call.cancel();
    this.#ended(e);
  }

  /** The current attempt is over: its place is given back, then Call.run learns how it ended. */
  #ended(err: unknown): void {
    this.#detach();
    const attempt = this.#attempt;
    this.#attempt = undefined;
    if (attempt === undefined) return;
    if (err === undefined) attempt.resolve(undefined);
    else attempt.reject(err);
  }

  /** Forgets the current call and gives its place back. */
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
    this.#detach();
    this.#finished = true;
    // The consumer left mid-attempt: Call.run returns, and settles the call.
    const attempt = this.#attempt;
    this.#attempt = undefined;
    attempt?.resolve(undefined);
    this.#error = err;
    const c = this.#c;
    if (c?.p?.signal && this.#onAbort) c.p.signal.removeEventListener('abort', this.#onAbort);
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
