/**
 * Batching of signals over one port (a Worker, or a thread's parentPort).
 *
 * `postMessage` has a fixed cost (a clone, a lock, a wake-up of the other thread) that dominates for
 * small messages. So outgoing signals are queued and flushed once per microtask as ONE frame (see
 * protocol.ts) with the merged transfer list: a burst of sends costs one postMessage.
 *
 * Two exceptions flush at once:
 *   - a signal with a transfer list: the caller expects its buffers to be detached when `send`
 *     returns (it must not be able to write into memory that another thread may be reading);
 *   - a frame that reached `maxBatch` signals: the receiver starts on it while we go on queueing.
 *
 * A frame that structured clone rejects (DataCloneError) is re-posted item by item, so only the bad
 * item is lost: it is reported to the warning hook, and its owner is told (`onDrop`) so that, e.g.,
 * a dropped call fails at once instead of timing out. An item that only carries an exit reason
 * (exit, DOWN, failed call, `exiting`) is never dropped: its reason is reduced to plain data and it
 * is posted in its place, because a lost exit signal would leave a link silently broken.
 */
import { describeValue, isSerializedError, type SerializedError, serializeError } from '../errors.js';
import { Exit, type ExitReason, encodeReason } from '../exit-reason.js';
import { nodeOf, type Pid } from '../pid.js';
import type { CallFrom, Signal, Transferable } from '../signals.js';
import type { Frame, FrameItem, FrameTags, ThreadSpawner, ToMain, ToThread } from './protocol.js';

// Frame tags (see protocol.ts for the frame grammar).
export const CONTROL: FrameTags['CONTROL'] = -1;
export const TRANSFER: FrameTags['TRANSFER'] = -2;
export const MSG_TO: FrameTags['MSG_TO'] = -3;
export const MSG: FrameTags['MSG'] = -4;
export const CALL: FrameTags['CALL'] = -5;
export const REPLY: FrameTags['REPLY'] = -6;

/** What a frame reader calls for each item, in frame order. */
export interface FrameVisitor {
  msg(to: Pid, m: unknown, transfer: readonly Transferable[] | undefined): void;
  call(to: Pid, from: CallFrom, req: unknown): void;
  reply(dest: number, ref: number, v: unknown): void;
  signal(dest: number, sig: Signal, transfer: readonly Transferable[] | undefined): void;
  control(c: ToMain | ToThread): void;
}

/** Reads a frame (the grammar is in protocol.ts), calling `v` for each item in order. */
export function readFrame(frame: Frame, v: FrameVisitor): void {
  let to: Pid | undefined;
  let transfer: readonly Transferable[] | undefined;
  for (let i = 0; i < frame.length; ) {
    const tag = frame[i] as number;
    switch (tag) {
      case MSG:
        v.msg(to!, frame[i + 1], transfer);
        transfer = undefined;
        i += 2;
        break;
      case MSG_TO:
        to = frame[i + 1] as Pid;
        i += 2;
        break;
      case CALL:
        v.call(frame[i + 1] as Pid, { pid: frame[i + 2] as Pid, ref: frame[i + 3] as number }, frame[i + 4]);
        i += 5;
        break;
      case REPLY:
        v.reply(frame[i + 1] as number, frame[i + 2] as number, frame[i + 3]);
        i += 4;
        break;
      case TRANSFER:
        transfer = frame[i + 1] as readonly Transferable[];
        i += 2;
        break;
      case CONTROL:
        v.control(frame[i + 1] as ToMain | ToThread);
        i += 2;
        break;
      default:
        v.signal(tag, frame[i + 1] as Signal, transfer);
        transfer = undefined;
        i += 2;
    }
  }
}

/** Where a thread actor's thread keeps its ThreadSpawner (read by spawnThread inside a thread). */
export const SPAWNER_KEY: unique symbol = Symbol.for('trellis.thread.spawner') as never;

export function threadSpawner(): ThreadSpawner | undefined {
  return (globalThis as { [SPAWNER_KEY]?: ThreadSpawner })[SPAWNER_KEY];
}

export const TRANSPORT_DEFAULTS = Object.freeze({
  /** Signals per frame before a flush is forced without waiting for the microtask. */
  maxBatch: 4096,
});

/** The one method of MessagePort / Worker the sender needs. */
export interface FramePort {
  postMessage(value: unknown, transferList?: readonly any[]): void;
}

export interface DroppedItem {
  /** Destination node, or CONTROL for a control message. */
  readonly dest: number;
  readonly item: Signal | ToMain | ToThread;
  readonly error: unknown;
}

export interface ThreadWarning {
  readonly code: 'TRELLIS_THREAD_DROPPED';
  readonly message: string;
  readonly dropped: DroppedItem;
}

export type ThreadWarningHook = (w: ThreadWarning) => void;

const defaultHook: ThreadWarningHook = (w) => process.emitWarning(w.message, { code: w.code });
let warningHook: ThreadWarningHook = defaultHook;

const RESOLVED: Promise<void> = Promise.resolve();

/** Installs the hook that hears about dropped items (default: process.emitWarning); returns the previous one. */
export function setThreadWarningHook(hook: ThreadWarningHook | undefined): ThreadWarningHook {
  const prev = warningHook;
  warningHook = hook ?? defaultHook;
  return prev;
}

export class FrameSender {
  readonly #port: FramePort;
  readonly #onDrop: ((d: DroppedItem) => void) | undefined;
  readonly #maxItems: number;
  #buf: Frame = [];
  #transfer: Transferable[] | undefined;
  /** Target of the MSG pairs at the end of #buf (undefined at the start of a frame). */
  #msgTo: Pid | undefined;
  #scheduled = false;
  /** Number of postMessage calls made (frames and item-by-item fallbacks); tests read it. */
  posts = 0;
  readonly #flushTask = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(
    port: FramePort,
    onDrop?: (d: DroppedItem) => void,
    maxBatch: number = TRANSPORT_DEFAULTS.maxBatch,
  ) {
    this.#port = port;
    this.#onDrop = onDrop;
    // Frame slots, not signals: most items take two slots.
    this.#maxItems = maxBatch * 2;
  }

  /** Queues a signal for node `dest`. */
  signal(dest: number, sig: Signal, transfer?: readonly Transferable[]): void {
    const buf = this.#buf;
    switch (sig.t) {
      case 'msg':
        this.message(sig.to, sig.m, transfer);
        return;
      // Calls and replies are the other hot path: flat, without their wrapper objects.
      case 'call':
        buf.push(CALL, sig.to, sig.from.pid, sig.from.ref, sig.req);
        this.#queued();
        return;
      case 'reply':
        buf.push(REPLY, dest, sig.ref, sig.v);
        this.#queued();
        return;
    }
    this.#pushItem(dest, sig, transfer);
  }

  /** Queues a plain message for `to` (the `msg` signal, in its compact form). */
  message(to: Pid, m: unknown, transfer?: readonly Transferable[]): void {
    const buf = this.#buf;
    if (this.#msgTo !== to) {
      buf.push(MSG_TO, to);
      this.#msgTo = to;
    }
    this.#pushItem(MSG, m, transfer);
  }

  /**
   * Queues one two-slot item (a signal's destination and the signal, or MSG and a message). One
   * with transferables is flushed at once: its buffers must be detached when `send` returns (above).
   */
  #pushItem(tag: number, item: unknown, transfer: readonly Transferable[] | undefined): void {
    if (transfer !== undefined && transfer.length > 0) {
      this.#buf.push(TRANSFER, transfer, tag, item);
      if (this.#transfer === undefined) this.#transfer = [...transfer];
      else this.#transfer.push(...transfer);
      this.flush();
      return;
    }
    this.#buf.push(tag, item);
    this.#queued();
  }

  control(msg: ToMain | ToThread): void {
    this.#buf.push(CONTROL, msg);
    this.#queued();
  }

  /** Posts everything queued now (a no-op when nothing is). */
  flush(): void {
    const frame = this.#buf;
    if (frame.length === 0) return;
    const transfer = this.#transfer;
    this.#buf = [];
    this.#transfer = undefined;
    this.#msgTo = undefined;
    try {
      this.posts++;
      this.#port.postMessage(frame, transfer);
    } catch {
      // Serialisation fails before anything is transferred, so the items are intact: retry singly.
      this.#oneByOne(frame);
    }
  }

  #queued(): void {
    if (this.#buf.length >= this.#maxItems) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      // A microtask, like queueMicrotask, but without the AsyncResource that Node's queueMicrotask
      // creates per call: this runs once per call or reply. flush() throws nothing (it catches a
      // failed postMessage and retries item by item), so no rejection can escape from here.
      void RESOLVED.then(this.#flushTask);
    }
  }

  #oneByOne(frame: Frame): void {
    readFrame(frame, {
      msg: (to, m, transfer) => this.#postOne(nodeOf(to), { t: 'msg', to, m }, transfer),
      call: (to, from, req) => this.#postOne(nodeOf(to), { t: 'call', to, from, req }, undefined),
      reply: (dest, ref, v) => this.#postOne(dest, { t: 'reply', ref, v }, undefined),
      signal: (dest, sig, transfer) => this.#postOne(dest, sig, transfer),
      control: (c) => this.#postOne(CONTROL, c, undefined),
    });
  }

  #postOne(
    tag: number,
    item: Signal | ToMain | ToThread,
    transfer: readonly Transferable[] | undefined,
  ): void {
    const single: FrameItem[] = transfer === undefined ? [tag, item] : [TRANSFER, transfer, tag, item];
    try {
      this.posts++;
      this.#port.postMessage(single, transfer);
      return;
    } catch (error) {
      const plain = withPlainReason(item);
      if (plain !== undefined) {
        try {
          this.posts++;
          this.#port.postMessage([tag, plain]);
          return;
        } catch {
          // fall through: reported as dropped
        }
      }
      const dropped: DroppedItem = { dest: tag, item, error };
      warningHook({
        code: 'TRELLIS_THREAD_DROPPED',
        message: `dropped a ${describeItem(item)} that structured clone rejected (${(error as Error)?.message ?? String(error)}); send plain data between threads`,
        dropped,
      });
      this.#onDrop?.(dropped);
    }
  }
}

function describeItem(item: Signal | ToMain | ToThread): string {
  if ('t' in item) return `"${item.t}" signal`;
  return `"${item.k}" control message`;
}

/** The item with its exit reason reduced to cloneable plain data, or undefined if it has none. */
function withPlainReason(item: Signal | ToMain | ToThread): Signal | ToMain | undefined {
  if ('t' in item) {
    if (item.t === 'exit' && item.r !== 'kill') return { ...item, r: plainReason(item.r) };
    if (item.t === 'down' || item.t === 'callfail' || item.t === 'nodedown')
      return { ...item, r: plainReason(item.r) };
    return undefined;
  }
  if (item.k === 'exiting' || item.k === 'start_failed') return { ...item, r: plainReason(item.r) };
  return undefined;
}

export function plainReason(r: ExitReason): ExitReason {
  if (r.type === 'error') return { type: 'error', cause: plainError(r.cause) };
  if (r.type === 'shutdown' && r.detail !== undefined)
    return { type: 'shutdown', detail: describeValue(r.detail) };
  return r;
}

function plainError(c: unknown): SerializedError {
  if (c instanceof Error) return serializeError(c);
  if (isSerializedError(c)) {
    // Keep the fields that identify it; whatever else it carried is what clone refused.
    const code = typeof c.code === 'string' ? c.code : undefined;
    return {
      name: c.name,
      message: c.message,
      stack: typeof c.stack === 'string' ? c.stack : undefined,
      code,
    };
  }
  return { name: 'NonError', message: describeValue(c) };
}

/**
 * A dropped call or reply must still end its caller's wait: the `callfail` to send, and to which
 * node. Undefined for items nobody waits on (a dropped plain message is only reported).
 */
export function failedCallFor(
  d: DroppedItem,
): { readonly dest: number; readonly signal: Signal } | undefined {
  const item = d.item;
  if (!('t' in item)) return undefined;
  const r = encodeReason(plainReason(Exit.error(d.error)));
  if (item.t === 'call')
    return { dest: nodeOf(item.from.pid), signal: { t: 'callfail', ref: item.from.ref, r } };
  if (item.t === 'reply') return { dest: d.dest, signal: { t: 'callfail', ref: item.ref, r } };
  return undefined;
}
