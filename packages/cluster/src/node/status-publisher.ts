/**
 * Publishing the node's status record (status.ts) under `/<cluster>/status/<node>`, on the member
 * lease so that it goes with the node: at each join, every statusIntervalMs, and soon (debounced)
 * after the node's global names change. Written in a txn that checks our member key is still this
 * incarnation, so a node declared down never writes a record for its old self.
 */
import { type EtcdConnection, enc } from '../etcd/etcd-connection.js';
import type { MemberLease } from './member-lease.js';
import type { NodeStatus } from './status.js';

export interface StatusPublisherHost {
  readonly node: string;
  readonly prefix: string;
  readonly etcd: EtcdConnection;
  readonly lease: MemberLease;
  record(): NodeStatus;
}

export class StatusPublisher {
  readonly #h: StatusPublisherHost;
  #interval: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;

  constructor(host: StatusPublisherHost) {
    this.#h = host;
  }

  async publish(): Promise<void> {
    const { lease, etcd } = this.#h;
    if (lease.state !== 'up') return;
    const key = enc(`${this.#h.prefix}status/${this.#h.node}`);
    await etcd.txn(
      [lease.isCurrent()],
      [{ request_put: { key, value: enc(JSON.stringify(this.#h.record())), lease: lease.leaseId } }],
      [],
    );
  }

  /** Publishes every `intervalMs` until stopped. */
  start(intervalMs: number): void {
    this.#interval = setInterval(() => void this.publish().catch(() => {}), intervalMs);
  }

  /** Publishes within 50 ms (changes in a burst make one write). */
  soon(): void {
    if (this.#soon !== undefined || this.#h.lease.state === 'stopped') return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.publish().catch(() => {});
    }, 50);
  }

  stop(): void {
    if (this.#interval !== undefined) clearInterval(this.#interval);
    if (this.#soon !== undefined) clearTimeout(this.#soon);
  }
}
