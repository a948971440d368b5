/**
 * Outstanding `call`s of one node, with their time-outs.
 *
 * A call's reply is matched by ref here, never through the caller's mailbox: a reply that arrives
 * after the time-out finds no entry and is dropped, so it can never turn up later as a stray message
 * (OTP statement 32).
 *
 * Time-outs: arming one timer per call costs more than the call itself at a million calls a second.
 * Calls with the same time-out value expire in the order they were made, so each (clock, time-out)
 * pair keeps one insertion-ordered bucket and one timer for its oldest entry.
 */
import type { Clock, TimerHandle } from './clock.js';
import { TrellisError } from './errors.js';
import { type ExitReason, formatReason } from './exit-reason.js';
import type { Pid } from './pid.js';

/** Why a call failed, in OTP's terms. */
export type CallFailure = 'timeout' | 'noproc' | 'calling_self' | ExitReason;

export class CallError extends TrellisError {
  readonly reason: CallFailure;
  constructor(code: string, message: string, reason: CallFailure, details?: Record<string, unknown>) {
    super(code, message, {
      details,
      cause: typeof reason === 'object' && reason.type === 'error' ? reason.cause : undefined,
    });
    this.reason = reason;
  }
}

export function callTimeoutError(target: string, timeoutMs: number): CallError {
  return new CallError(
    'ERR_CALL_TIMEOUT',
    `call to ${target} timed out after ${timeoutMs} ms; the server is busy or never replies. Raise the time-out (third argument of call) or make the server reply sooner`,
    'timeout',
    { target, timeoutMs },
  );
}

export function noprocError(target: string, isName: boolean): CallError {
  return new CallError(
    'ERR_NOPROC',
    isName
      ? `call to "${target}": no process is registered under that name, in any thread. Start it first (is it a child of a running supervisor, or being restarted?) or check the name`
      : `call to ${target}: no such process (it has exited). Look the server up again, e.g. by its registered name`,
    'noproc',
    { target },
  );
}

export function callingSelfError(target: string): CallError {
  return new CallError(
    'ERR_CALLING_SELF',
    `process ${target} called itself; a process cannot wait for its own reply. Handle the request directly instead`,
    'calling_self',
    { target },
  );
}

export function serverExitedError(target: string, reason: ExitReason): CallError {
  if (reason.type === 'noproc') return noprocError(target, false);
  return new CallError(
    'ERR_CALL_SERVER_EXITED',
    `call to ${target} failed: the server exited with reason ${formatReason(reason)} before replying`,
    reason,
    { target },
  );
}

/** Node's Timeout has ref/unref (cheap: a binding call only when the loop's count goes 0 <-> 1). */
function refTimer(t: TimerHandle, on: boolean): void {
  const h = t as { ref?: () => void; unref?: () => void };
  if (on) h.ref?.();
  else h.unref?.();
}

interface Pending {
  readonly ref: number;
  readonly target: Pid;
  readonly label: string;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  done: boolean;
  bucket: Bucket | undefined;
}

interface Bucket {
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Calls in the order made, hence in deadline order; settled ones are skipped lazily. */
  queue: Pending[];
  head: number;
  timer: TimerHandle | undefined;
  /** Unsettled calls in the bucket: while > 0 the timer keeps the process alive (see #arm). */
  live: number;
}

export class CallTable {
  readonly #pending = new Map<number, Pending>();
  readonly #buckets = new Map<Clock, Map<number, Bucket>>();
  #next = 0;

  get size(): number {
    return this.#pending.size;
  }

  /** A call reference unique within this node (the reply is routed back to this node). */
  newRef(): number {
    return ++this.#next;
  }

  /** The ref newRef() handed out last (sendRequest reads back the ref of the call it just started). */
  get lastRef(): number {
    return this.#next;
  }

  add(
    ref: number,
    target: Pid,
    label: string,
    timeoutMs: number,
    clock: Clock,
    resolve: (v: unknown) => void,
    reject: (e: unknown) => void,
  ): void {
    const finite = Number.isFinite(timeoutMs);
    const deadline = finite ? clock.now() + timeoutMs : Number.POSITIVE_INFINITY;
    const p: Pending = {
      ref,
      target,
      label,
      deadline,
      timeoutMs,
      resolve,
      reject,
      done: false,
      bucket: undefined,
    };
    this.#pending.set(ref, p);
    if (!finite) return;
    let byTimeout = this.#buckets.get(clock);
    if (!byTimeout) {
      byTimeout = new Map();
      this.#buckets.set(clock, byTimeout);
    }
    let bucket = byTimeout.get(timeoutMs);
    if (!bucket) {
      bucket = { clock, timeoutMs, queue: [], head: 0, timer: undefined, live: 0 };
      byTimeout.set(timeoutMs, bucket);
    }
    bucket.queue.push(p);
    p.bucket = bucket;
    // A pending call with a finite time-out keeps the process alive until it settles: an `await call`
    // whose timer was unref'd would let Node exit 0 with the await unfinished (issue 17, bug 1).
    if (bucket.live++ === 0 && bucket.timer !== undefined) refTimer(bucket.timer, true);
    if (bucket.timer === undefined) this.#arm(bucket, deadline);
  }

  resolve(ref: number, value: unknown): boolean {
    const p = this.#take(ref);
    if (!p) return false;
    p.resolve(value);
    return true;
  }

  reject(ref: number, err: unknown): boolean {
    const p = this.#take(ref);
    if (!p) return false;
    p.reject(err);
    return true;
  }

  /** Forgets a call without settling it (an abandoned request: its late reply is dropped). */
  drop(ref: number): boolean {
    return this.#take(ref) !== undefined;
  }

  /** Fails a call with an error built from its label (the server's name or pid). */
  rejectWith(ref: number, makeError: (label: string) => unknown): boolean {
    const p = this.#take(ref);
    if (!p) return false;
    p.reject(makeError(p.label));
    return true;
  }

  /** Fails every call whose server lives on `node` (its thread died). */
  failNode(node: number, nodeOf: (pid: Pid) => number, makeError: (label: string) => unknown): void {
    for (const p of [...this.#pending.values()])
      if (nodeOf(p.target) === node) this.rejectWith(p.ref, makeError);
  }

  #take(ref: number): Pending | undefined {
    const p = this.#pending.get(ref);
    if (!p) return undefined;
    this.#pending.delete(ref);
    p.done = true;
    // Settled calls leave their bucket from the front (calls mostly settle in the order made), so the
    // queue does not hold thousands of settled entries until the next time-out: objects that survive
    // that long get promoted and make every garbage collection slower.
    const b = p.bucket;
    if (b !== undefined) {
      // The timer may outlive the calls it was armed for (it is not re-armed per call, for speed); once
      // no call of the bucket is pending it must not keep the process up any more.
      if (--b.live === 0 && b.timer !== undefined) refTimer(b.timer, false);
      const q = b.queue;
      while (b.head < q.length && q[b.head]!.done) q[b.head++] = undefined as unknown as Pending;
      if (b.head === q.length) {
        q.length = 0;
        b.head = 0;
      } else if (b.head > 1024 && b.head * 2 > q.length) {
        b.queue = q.slice(b.head);
        b.head = 0;
      }
    }
    return p;
  }

  #arm(bucket: Bucket, at: number): void {
    const t = bucket.clock.setTimeout(() => this.#expire(bucket), Math.max(0, at - bucket.clock.now()));
    if (bucket.live === 0) refTimer(t, false);
    bucket.timer = t;
  }

  #expire(bucket: Bucket): void {
    bucket.timer = undefined;
    const now = bucket.clock.now();
    for (;;) {
      // Re-read the queue each time: #take may compact it.
      const q = bucket.queue;
      if (bucket.head >= q.length) break;
      const p = q[bucket.head]!;
      if (p.done) {
        bucket.head++;
        continue;
      }
      if (p.deadline > now) {
        this.#arm(bucket, p.deadline);
        return;
      }
      this.#take(p.ref); // p is at the head: this also moves the head past it
      p.reject(callTimeoutError(p.label, p.timeoutMs));
    }
    // Bucket empty: drop it so an idle node holds no timer.
    this.#buckets.get(bucket.clock)?.delete(bucket.timeoutMs);
  }
}
