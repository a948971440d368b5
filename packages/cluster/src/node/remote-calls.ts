/**
 * Calls, sends and exit signals to processes of any node. A target on this node (same node name and
 * incarnation, or a global name held here) goes straight to core's call/send; any other goes over
 * the node-to-node service (peers.ts): the request carries the incarnation it is meant for, a remote
 * error comes back as the TrellisError it was, and a call's deadline gives ERR_CALL_TIMEOUT like a
 * local one. Global names are resolved from the watched view (global-names.ts): no etcd round trip.
 */
import {
  callTimeoutError,
  call as coreCall,
  deserializeError,
  type ExitReason,
  encodeReason,
  type Node,
  NoProcError,
  noprocError,
} from '@trellis/core';
import { NodeUnreachableError } from '../errors.js';
import type { NameRecord } from './global-names.js';
import { CLUSTER_DEFAULTS } from './node-options.js';
import type { Peers } from './peers.js';
import type { GlobalPid } from './remote-monitors.js';
import type { Ack, CallRep, CallReq, ExitReq, PingRep, SendReq, Target } from './wire.js';

export interface RemoteCallsHost {
  readonly node: string;
  readonly local: Node;
  readonly incarnation: number;
  holder(name: string): NameRecord | undefined;
}

export class RemoteCalls {
  readonly #peers: Peers;
  readonly #h: RemoteCallsHost;

  constructor(peers: Peers, host: RemoteCallsHost) {
    this.#peers = peers;
    this.#h = host;
  }

  isSelf(target: GlobalPid): boolean {
    return target.node === this.#h.node && target.incarnation === this.#h.incarnation;
  }

  /** `call` to the holder of a global name, on whichever node it lives. */
  async callGlobal<R>(name: string, request: unknown, timeoutMs: number): Promise<R> {
    const h = this.#h.holder(name);
    if (h === undefined) throw noprocError(name, true);
    if (h.node === this.#h.node) return coreCall<R>(h.pid, request, timeoutMs);
    return this.#call<R>(h.node, h.incarnation, { name }, request, timeoutMs, name);
  }

  async call<R>(target: GlobalPid, request: unknown, timeoutMs: number): Promise<R> {
    if (this.isSelf(target)) return coreCall<R>(target.pid, request, timeoutMs);
    const what = `${target.pid}@${target.node}`;
    return this.#call<R>(target.node, target.incarnation, { pid: target.pid }, request, timeoutMs, what);
  }

  async sendGlobal(name: string, message: unknown): Promise<void> {
    const h = this.#h.holder(name);
    if (h === undefined) throw new NoProcError(`send to global name "${name}"`);
    if (h.node === this.#h.node) {
      this.#h.local.send(h.pid, message);
      return;
    }
    await this.#send(h.node, h.incarnation, { name }, message, `"${name}"`);
  }

  async send(target: GlobalPid, message: unknown): Promise<void> {
    if (this.isSelf(target)) {
      this.#h.local.send(target.pid, message);
      return;
    }
    const what = `${target.pid}@${target.node}`;
    await this.#send(target.node, target.incarnation, { pid: target.pid }, message, what);
  }

  /** A reachability probe; the answer's incarnation tells a rejoined node from its old self. */
  ping(node: string, timeoutMs: number = CLUSTER_DEFAULTS.probeTimeoutMs): Promise<PingRep> {
    return this.#peers.unary<PingRep>(node, 'Ping', {}, timeoutMs);
  }

  /** An exit signal to a linked remote process (fire and forget, as exit signals are). */
  exit(t: GlobalPid, reason: ExitReason): void {
    void this.#peers
      .unary<Ack>(
        t.node,
        'Exit',
        { inc: t.incarnation, pid: t.pid, reason: encodeReason(reason) } satisfies ExitReq,
        2000,
      )
      .catch(() => {});
  }

  async #call<R>(
    node: string,
    inc: number,
    to: Target,
    req: unknown,
    timeoutMs: number,
    what: string,
  ): Promise<R> {
    const rep = await this.#peers.unary<CallRep>(
      node,
      'Call',
      { inc, to, req, t: timeoutMs } satisfies CallReq,
      timeoutMs + 1000,
      () => callTimeoutError(what, timeoutMs),
    );
    if ('e' in rep) throw deserializeError(rep.e);
    return rep.v as R;
  }

  async #send(node: string, inc: number, to: Target, msg: unknown, what: string): Promise<void> {
    const rep = await this.#peers.unary<Ack>(
      node,
      'Send',
      { inc, to, msg } satisfies SendReq,
      5000,
      () => new NodeUnreachableError(node, `send to ${what}`, 'timed out'),
    );
    if ('e' in rep) throw deserializeError(rep.e);
  }
}
