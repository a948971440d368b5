/**
 * OTP's asynchronous requests: send_request / receive_response / wait_response / check_response and
 * request-id collections (reqids_*), for fanning a request out to many servers without a promise per
 * call: a request settles into its ReqId (or its collection) through a callback, and only the wait
 * allocates a promise.
 *
 * Responses are discriminated unions, as OTP's return values: `{ status: 'reply', value }`,
 * `{ status: 'error', error }` (the CallError a call would reject with), `{ status: 'timeout' }`;
 * collections add the request's `label`, and answer `'no_request'` when empty.
 *
 * Difference from OTP: replies never go through the caller's mailbox (a late reply must not turn up
 * as a stray message, OTP statement 32), so checkResponse takes the request, not a received message.
 */
import type { Clock, TimerHandle } from './clock.js';
import { isViaName, type ServerRef, viaRegistry } from './names/via.js';
import { currentNode, type Node } from './node.js';

export type Response<R = unknown> =
  | { readonly status: 'reply'; readonly value: R }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'timeout' };

export type LabeledResponse<R = unknown, L = unknown> =
  | { readonly status: 'reply'; readonly value: R; readonly label: L }
  | { readonly status: 'error'; readonly error: unknown; readonly label: L }
  | { readonly status: 'timeout' };

/** One outstanding request (OTP's request id). */
export class ReqId<R = unknown> {
  /** @internal the call table's ref (undefined for a request through a via registry) */
  ref: number | undefined;
  /** @internal */
  result: Response<R> | undefined;
  /** @internal */
  waiter: ((r: Response<R>) => void) | undefined;
  /** @internal */
  collection: ReqIdCollection<R> | undefined;
  /** @internal set once the response was handed out or the request abandoned */
  consumed = false;
  /** @internal */
  readonly node: Node;
  constructor(node: Node) {
    this.node = node;
  }

  /** @internal */
  settle(r: Response<R>): void {
    if (this.result !== undefined || this.consumed) return;
    this.result = r;
    this.ref = undefined;
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w(r);
    } else this.collection?.ready(this);
  }

  /** @internal forget the request: a reply that comes later is dropped */
  abandon(): void {
    this.consumed = true;
    if (this.ref !== undefined) this.node.calls.drop(this.ref);
    this.ref = undefined;
  }
}

/** A set of request ids with labels (OTP's request_id_collection). */
export class ReqIdCollection<R = unknown, L = unknown> {
  /** @internal */
  readonly labels = new Map<ReqId<R>, L>();
  /** Settled requests not yet handed out, in the order they settled. */
  #ready: ReqId<R>[] = [];
  #readHead = 0;
  #waiter: (() => void) | undefined;

  get size(): number {
    return this.labels.size;
  }

  /** @internal */
  ready(id: ReqId<R>): void {
    this.#ready.push(id);
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** @internal the first settled request, removed from the ready queue (and from the set with `del`) */
  take(del: boolean): LabeledResponse<R, L> | undefined {
    for (;;) {
      // A read index instead of shift(): a fan-out drains the whole queue, one response at a time.
      if (this.#readHead >= this.#ready.length) {
        this.#ready.length = 0;
        this.#readHead = 0;
        return undefined;
      }
      const id = this.#ready[this.#readHead]!;
      this.#ready[this.#readHead++] = undefined as unknown as ReqId<R>;
      if (!this.labels.has(id) || id.consumed) continue;
      const label = this.labels.get(id) as L;
      if (del) {
        this.labels.delete(id);
        id.consumed = true;
        id.collection = undefined;
      }
      const r = id.result!;
      if (r.status === 'reply') return { status: 'reply', value: r.value, label };
      if (r.status === 'error') return { status: 'error', error: r.error, label };
      return r;
    }
  }

  /** @internal `fn` runs once, at the next response that settles (replacing any earlier waiter). */
  onReady(fn: () => void): void {
    this.#waiter = fn;
  }

  /** @internal */
  cancelWait(): void {
    this.#waiter = undefined;
  }
}

function start<R>(server: ServerRef, request: unknown): ReqId<R> {
  const node = currentNode();
  const id = new ReqId<R>(node);
  const onReply = (value: unknown) => id.settle({ status: 'reply', value: value as R });
  const onError = (error: unknown) => id.settle({ status: 'error', error });
  if (typeof server === 'object') {
    try {
      if (!isViaName(server)) throw new TypeError(`not a pid, name or { via, name }: ${String(server)}`);
      viaRegistry(server).call(server.name, request, Number.POSITIVE_INFINITY).then(onReply, onError);
    } catch (e) {
      onError(e);
    }
    return id;
  }
  // The ref is the one startCall is about to take: read it back so the request can be abandoned.
  const before = node.calls.size;
  node.startCall(undefined, server, request, Number.POSITIVE_INFINITY, undefined, onReply, onError);
  if (id.result === undefined && node.calls.size > before) id.ref = node.calls.lastRef;
  return id;
}

/** gen_server:send_request/2: sends `request` as a call and returns its request id at once. */
export function sendRequest<R = unknown>(server: ServerRef, request: unknown): ReqId<R>;
/** send_request/4: adds the request to `collection` under `label`; returns the collection. */
export function sendRequest<R = unknown, L = unknown>(
  server: ServerRef,
  request: unknown,
  label: L,
  collection: ReqIdCollection<R, L>,
): ReqIdCollection<R, L>;
export function sendRequest<R, L>(
  server: ServerRef,
  request: unknown,
  label?: L,
  collection?: ReqIdCollection<R, L>,
): ReqId<R> | ReqIdCollection<R, L> {
  const id = start<R>(server, request);
  if (collection === undefined) return id;
  return reqIdsAdd(collection, id, label as L);
}

export function reqIdsNew<R = unknown, L = unknown>(): ReqIdCollection<R, L> {
  return new ReqIdCollection<R, L>();
}

export function reqIdsAdd<R, L>(
  collection: ReqIdCollection<R, L>,
  id: ReqId<R>,
  label: L,
): ReqIdCollection<R, L> {
  if (id.collection !== undefined && id.collection !== collection)
    throw new TypeError('this request id already belongs to another collection');
  collection.labels.set(id, label);
  id.collection = collection;
  if (id.result !== undefined) collection.ready(id);
  return collection;
}

export function reqIdsSize(collection: ReqIdCollection): number {
  return collection.size;
}

export function reqIdsToList<R, L>(collection: ReqIdCollection<R, L>): [ReqId<R>, L][] {
  return [...collection.labels];
}

interface WaitOptions {
  readonly clock?: Clock;
}

function waitOne<R>(
  id: ReqId<R>,
  timeoutMs: number,
  abandonOnTimeout: boolean,
  opts: WaitOptions,
): Promise<Response<R>> {
  if (id.result !== undefined) {
    id.consumed = abandonOnTimeout || id.consumed;
    return Promise.resolve(id.result);
  }
  if (id.consumed) return Promise.resolve({ status: 'timeout' });
  if (timeoutMs <= 0) {
    if (abandonOnTimeout) id.abandon();
    return Promise.resolve({ status: 'timeout' });
  }
  return new Promise((resolve) => {
    const clock = opts.clock ?? id.node.defaultClock;
    let timer: TimerHandle | undefined;
    id.waiter = (r) => {
      if (timer !== undefined) clock.clearTimeout(timer);
      resolve(r);
    };
    if (Number.isFinite(timeoutMs)) {
      timer = clock.setTimeout(() => {
        id.waiter = undefined;
        if (abandonOnTimeout) id.abandon();
        resolve({ status: 'timeout' });
      }, timeoutMs);
    }
  });
}

/**
 * receive_response and wait_response, which differ only in what a time-out does: the first abandons
 * the request (a late reply is dropped), the second leaves it outstanding.
 */
interface ResponseWaiter {
  /** /2: waits up to `timeoutMs` (default: for ever) for the response. */
  <R>(id: ReqId<R>, timeoutMs?: number, opts?: WaitOptions): Promise<Response<R>>;
  /** /3: the next response of the collection (with `del`, removed from it). */
  <R, L>(
    collection: ReqIdCollection<R, L>,
    timeoutMs?: number,
    del?: boolean,
    opts?: WaitOptions,
  ): Promise<LabeledResponse<R, L> | 'no_request'>;
}

const responseWaiter = (abandon: boolean): ResponseWaiter =>
  (<R, L>(
    target: ReqId<R> | ReqIdCollection<R, L>,
    timeoutMs = Number.POSITIVE_INFINITY,
    delOrOpts?: boolean | WaitOptions,
    opts?: WaitOptions,
  ): Promise<Response<R> | LabeledResponse<R, L> | 'no_request'> =>
    target instanceof ReqId
      ? waitOne(target, timeoutMs, abandon, (delOrOpts as WaitOptions) ?? {})
      : waitColl(target, timeoutMs, delOrOpts !== false, abandon, opts ?? {})) as ResponseWaiter;

/**
 * receive_response/2,3: waits up to `timeoutMs` (default: for ever) for the response. On time-out the
 * request (for a collection: every request in it) is abandoned, as OTP's: a late reply is dropped.
 */
export const receiveResponse: ResponseWaiter = responseWaiter(true);

/** wait_response/2,3: as receiveResponse, but a time-out leaves the request outstanding. */
export const waitResponse: ResponseWaiter = responseWaiter(false);

/** check_response: the response if it has arrived, else 'no_reply' (never waits). */
export function checkResponse<R>(id: ReqId<R>): Response<R> | 'no_reply';
export function checkResponse<R, L>(
  collection: ReqIdCollection<R, L>,
  del?: boolean,
): LabeledResponse<R, L> | 'no_reply' | 'no_request';
export function checkResponse<R, L>(
  target: ReqId<R> | ReqIdCollection<R, L>,
  del = true,
): Response<R> | LabeledResponse<R, L> | 'no_reply' | 'no_request' {
  if (target instanceof ReqId) {
    if (target.result === undefined || target.consumed) return 'no_reply';
    target.consumed = true;
    return target.result;
  }
  if (target.size === 0) return 'no_request';
  return target.take(del) ?? 'no_reply';
}

function waitColl<R, L>(
  coll: ReqIdCollection<R, L>,
  timeoutMs: number,
  del: boolean,
  abandonOnTimeout: boolean,
  opts: WaitOptions,
): Promise<LabeledResponse<R, L> | 'no_request'> {
  // Not an async function: a response already there is answered without the extra promise hops
  // (a fan-out reads most responses this way).
  if (coll.size === 0) return Promise.resolve('no_request');
  const now = coll.take(del);
  if (now !== undefined) return Promise.resolve(now);
  const timedOut = (): LabeledResponse<R, L> => {
    if (abandonOnTimeout) {
      for (const id of coll.labels.keys()) id.abandon();
      coll.labels.clear();
    }
    return { status: 'timeout' };
  };
  if (timeoutMs <= 0) return Promise.resolve(timedOut());
  return new Promise((resolve) => {
    const clock = opts.clock ?? currentNode().defaultClock;
    let timer: TimerHandle | undefined;
    const arrived = (): void => {
      const r = coll.take(del);
      if (r === undefined) {
        coll.onReady(arrived); // settled a request that is no longer in the collection
        return;
      }
      if (timer !== undefined) clock.clearTimeout(timer);
      resolve(r);
    };
    coll.onReady(arrived);
    if (Number.isFinite(timeoutMs)) {
      timer = clock.setTimeout(() => {
        coll.cancelWait();
        resolve(timedOut());
      }, timeoutMs);
    }
  });
}
