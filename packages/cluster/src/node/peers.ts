/**
 * The client side of the node-to-node service: one grpc-js channel per member (redialed when the
 * member's address changes, closed when it goes down), unary calls with a deadline, Monitor streams,
 * and the mapping of transport failures to the cluster's errors. Down or unreachable is decided by
 * the membership view, never by a failed call alone: a member that does not answer is unreachable.
 */
import { type Client, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { decodeReason } from '@trellis/core';
import { NodeDownError, NodeUnreachableError, TlsRefusedError } from '../errors.js';
import type { Membership } from './membership.js';
import type { GlobalPid } from './remote-monitors.js';
import { probeTlsRefusal } from './tls-refusal.js';
import {
  clientCredentials,
  type MonitorEvent,
  type MonitorReq,
  NodeClient,
  type NodeTlsOptions,
} from './wire.js';

type NodeStub = Client & Record<string, (...a: any[]) => any>;

export class Peers {
  readonly #membership: Membership;
  readonly #tls: NodeTlsOptions | undefined;
  readonly #peers = new Map<string, { address: string; client: NodeStub }>();

  constructor(membership: Membership, tls: NodeTlsOptions | undefined) {
    this.#membership = membership;
    this.#tls = tls;
  }

  #client(node: string): NodeStub {
    const m = this.#membership.get(node);
    if (m === undefined) throw new NodeDownError(node, 'call');
    const p = this.#peers.get(node);
    if (p !== undefined && p.address === m.address) return p.client;
    p?.client.close();
    const { creds, options } = clientCredentials(this.#tls);
    const client = new NodeClient(m.address, creds, options) as NodeStub;
    this.#peers.set(node, { address: m.address, client });
    return client;
  }

  /** One unary call; `onDeadline` gives the error of a call whose deadline passed (e.g. ERR_CALL_TIMEOUT). */
  unary<R>(
    node: string,
    method: string,
    req: unknown,
    timeoutMs: number,
    onDeadline?: () => Error,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let client: NodeStub;
      try {
        client = this.#client(node);
      } catch (e) {
        reject(e);
        return;
      }
      client[method]?.(req, { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, rep: R) => {
        if (err === null) resolve(rep);
        else this.#mapError(node, method, err, onDeadline).then(reject, reject);
      });
    });
  }

  async #mapError(node: string, method: string, err: ServiceError, onDeadline?: () => Error): Promise<Error> {
    const what = `${method} on node "${node}"`;
    if (err.code === GrpcStatus.DEADLINE_EXCEEDED)
      return onDeadline?.() ?? new NodeUnreachableError(node, what, err.details);
    // grpc-js says UNAVAILABLE for a refused handshake as for a dead host: ask the peer once with a
    // TLS connection of our own which one it is (tls-refusal.ts). Only on this error path.
    const address = this.#membership.get(node)?.address;
    if (this.#tls !== undefined && address !== undefined && err.code === GrpcStatus.UNAVAILABLE) {
      const reason = await probeTlsRefusal(address, this.#tls);
      if (reason !== undefined) return new TlsRefusedError(node, address, reason);
    }
    if (this.#membership.get(node) === undefined) return new NodeDownError(node, what);
    return new NodeUnreachableError(node, what, err.details);
  }

  /** Opens a Monitor stream; `onEnd` when it breaks without an answer. Returns the cancel function. */
  openMonitor(t: GlobalPid, onExit: (e: MonitorEvent) => void, onEnd: (err: unknown) => void): () => void {
    let client: NodeStub;
    try {
      client = this.#client(t.node);
    } catch (e) {
      queueMicrotask(() => onEnd(e));
      return () => {};
    }
    let done = false;
    const call = client.Monitor?.({ inc: t.incarnation, pid: t.pid } satisfies MonitorReq);
    call.on('data', (ev: MonitorEvent) => {
      if (done) return;
      done = true;
      onExit({ reason: decodeReason(ev.reason) });
    });
    call.on('error', (e: unknown) => {
      if (!done) {
        done = true;
        onEnd(e);
      }
    });
    call.on('end', () => {
      if (!done) {
        done = true;
        onEnd(new Error('monitor stream ended'));
      }
    });
    return () => {
      done = true;
      call.cancel();
    };
  }

  /** The node went down: close its channel. */
  drop(node: string): void {
    const p = this.#peers.get(node);
    if (p === undefined) return;
    this.#peers.delete(node);
    p.client.close();
  }

  close(): void {
    for (const p of this.#peers.values()) p.client.close();
    this.#peers.clear();
  }
}
