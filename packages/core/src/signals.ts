/**
 * Signals between nodes (threads). Every interaction between processes that may live in different
 * threads is one of these records; the thread transport batches them over MessagePorts. They are
 * plain data: exit reasons travel encoded (see exit-reason.ts encodeReason).
 *
 * Ordering: all signals from one node to another travel over one FIFO path, so signals between one
 * sender and one receiver arrive in the order sent (OTP's guarantee).
 */

import type { MessagePort } from 'node:worker_threads';
import type { ExitReason } from './exit-reason.js';
import type { Pid, Ref } from './pid.js';

/** Who is waiting for a call's reply: the caller (or its node's pseudo-process) and the call's ref. */
export interface CallFrom {
  readonly pid: Pid;
  /** Unique within the caller's node; the reply is routed to that node. */
  readonly ref: number;
}

export type Signal =
  | { readonly t: 'msg'; readonly to: Pid; readonly m: unknown }
  | { readonly t: 'call'; readonly to: Pid; readonly from: CallFrom; readonly req: unknown }
  | { readonly t: 'reply'; readonly ref: number; readonly v: unknown }
  /** The server died (or never existed) before replying. */
  | { readonly t: 'callfail'; readonly ref: number; readonly r: ExitReason }
  /** `kill` is the untrappable signal; `link` marks a signal propagated through a link. */
  | {
      readonly t: 'exit';
      readonly from: Pid;
      readonly to: Pid;
      readonly r: ExitReason | 'kill';
      readonly link: boolean;
    }
  | { readonly t: 'link'; readonly from: Pid; readonly to: Pid }
  | { readonly t: 'unlink'; readonly from: Pid; readonly to: Pid }
  | { readonly t: 'mon'; readonly ref: Ref; readonly from: Pid; readonly to: Pid }
  | { readonly t: 'demon'; readonly ref: Ref; readonly to: Pid }
  | { readonly t: 'down'; readonly ref: Ref; readonly to: Pid; readonly pid: Pid; readonly r: ExitReason }
  /** Every process of `node` is gone (its thread ended) with reason `r`. */
  | { readonly t: 'nodedown'; readonly node: number; readonly r: ExitReason };

/** The part of a thread transport the node needs: deliver a signal to another node. */
export interface RemoteRouter {
  /** Returns false when `node` does not exist (any more): the caller then bounces the signal. */
  route(node: number, signal: Signal, transfer?: readonly Transferable[]): boolean;
  /** Sends an untrappable kill to a remote pid (the main thread terminates a thread actor's thread). */
  kill?(pid: Pid): boolean;
}

export type Transferable = ArrayBuffer | MessagePort;
