/**
 * The node's member key and the etcd lease it lives on: joining, keep-alive, rejoining.
 *
 * The member key `/<cluster>/members/<node>` is written on a fresh lease in a txn that checks nobody
 * holds it; its create_revision is the node's incarnation. The lease is kept alive every TTL/3 with
 * the node's OWN deadline (send time of the answered keep-alive + TTL - margin), as for leader
 * leases: past it the node counts itself disconnected, without waiting for etcd or a client library
 * to say so. When etcd answers that the lease is gone (we were declared down), the node joins again
 * as a NEW incarnation; the node re-registers its names then (`onRejoined`).
 *
 * Listeners of `onLost` are told when the node stops being a member it can vouch for: its deadline
 * passed, or etcd dropped the lease. Whatever must not outlive the membership (an agent's hosted
 * workers) hangs on that.
 */
import { hostname } from 'node:os';
import { getLogger } from '@trellis/core';
import { NodeNameTakenError } from '../errors.js';
import { type EtcdConnection, enc, num, Result, Target as T } from '../etcd/etcd-connection.js';
import type { Member, Membership } from './membership.js';
import type { ConnectionState } from './node-options.js';

/** Why the node lost its membership: its own deadline passed, or etcd dropped the member lease. */
export type MemberLeaseLoss = 'deadline' | 'expired';

export interface MemberLeaseHost {
  readonly cluster: string;
  readonly node: string;
  readonly prefix: string;
  readonly memberTtlMs: number;
  readonly etcd: EtcdConnection;
  readonly membership: Membership;
  /** The node-to-node address written in the member record (known once the server is bound). */
  readonly address: string;
  /** Roles written in the member record (e.g. 'agent'), if any. */
  readonly roles?: readonly string[] | undefined;
  /** After each join: publish the status record. */
  joined(): Promise<void>;
  /** After a rejoin as a new incarnation: read the keys again, re-register the names. */
  rejoined(old: number): Promise<void>;
}

export class MemberLease {
  readonly #h: MemberLeaseHost;
  readonly #startedAt = Date.now();
  readonly #log = getLogger();
  readonly #lost = new Set<(why: MemberLeaseLoss) => void>();
  #incarnation = 0;
  #leaseId = '';
  #deadline = 0;
  #state: ConnectionState = 'up';
  #timer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #rejoining: Promise<void> | undefined;

  constructor(host: MemberLeaseHost) {
    this.#h = host;
  }

  get incarnation(): number {
    return this.#incarnation;
  }
  /** The etcd lease id of the member key ('' before the first join): names and status live on it. */
  get leaseId(): string {
    return this.#leaseId;
  }
  get state(): ConnectionState {
    return this.#state;
  }
  /** performance.now() past which the node can no longer vouch for its membership (0 before the join). */
  get deadline(): number {
    return this.#deadline;
  }

  memberKey(node = this.#h.node): string {
    return `${this.#h.prefix}members/${node}`;
  }

  /** The txn compare "our member key is still this incarnation": names and status are written under it. */
  isCurrent() {
    return {
      key: enc(this.memberKey()),
      target: T.create,
      result: Result.equal,
      create_revision: this.#incarnation,
    } as const;
  }

  /** Calls `listener` each time the node loses its membership (see the file's comment); returns the unsubscribe. */
  onLost(listener: (why: MemberLeaseLoss) => void): () => void {
    this.#lost.add(listener);
    return () => this.#lost.delete(listener);
  }

  #margin(): number {
    return Math.max(100, this.#h.memberTtlMs / 10);
  }

  /**
   * Sets the deadline and wakes at it: a keep-alive that hangs (etcd stopped, a partition) must not
   * leave the node counting itself a member past it. Waiting for the next keep-alive to fail would
   * add up to TTL/3 plus its timeout, and by then etcd may have expired the lease and others acted.
   */
  #setDeadline(at: number): void {
    this.#deadline = at;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(
      () => this.#pastDeadline('no keep-alive answered'),
      Math.max(0, at - performance.now()),
    );
    this.#deadlineTimer.unref();
  }

  #pastDeadline(err: string): void {
    if (this.#state !== 'up' || performance.now() < this.#deadline) return;
    this.#disconnect('deadline');
    this.#log.warn(
      { cluster: this.#h.cluster, node: this.#h.node, err },
      'lost etcd: past the member deadline',
    );
  }

  /** up → disconnected: the only transition `onLost` listeners hear of. */
  #disconnect(why: MemberLeaseLoss): void {
    if (this.#state !== 'up') return;
    this.#state = 'disconnected';
    for (const l of this.#lost) {
      try {
        l(why);
      } catch (e) {
        this.#log.warn({ node: this.#h.node, err: String(e) }, 'member lease listener failed');
      }
    }
  }

  /** Writes the member key on a fresh lease; waits up to one TTL for a crashed predecessor's key to go. */
  async join(first: boolean): Promise<void> {
    const h = this.#h;
    const until = Date.now() + h.memberTtlMs + 1500;
    for (;;) {
      const sent = performance.now();
      const lease = await h.etcd.leaseGrant(Math.ceil(h.memberTtlMs / 1000));
      const key = enc(this.memberKey());
      const value: Omit<Member, 'incarnation'> = {
        node: h.node,
        host: hostname(),
        pid: process.pid,
        address: h.address,
        startedAt: this.#startedAt,
        ...(h.roles === undefined ? {} : { roles: [...h.roles] }),
      };
      const t = await h.etcd.txn(
        [{ key, target: T.create, result: Result.equal, create_revision: 0 }],
        [{ request_put: { key, value: enc(JSON.stringify(value)), lease: lease.id } }],
        [{ request_range: { key } }],
      );
      if (t.succeeded && this.#state === 'stopped') {
        // The node stopped while this join was under way: leave at once rather than come back up.
        await h.etcd.leaseRevoke(lease.id).catch(() => {});
        return;
      }
      if (t.succeeded) {
        this.#incarnation = num(t.header.revision);
        this.#leaseId = lease.id;
        this.#state = 'up';
        this.#setDeadline(sent + Math.min(h.memberTtlMs, lease.ttlS * 1000) - this.#margin());
        h.membership.put({ ...value, incarnation: this.#incarnation });
        this.#log.info(
          { cluster: h.cluster, node: h.node, incarnation: this.#incarnation, address: h.address },
          'joined the cluster',
        );
        await h.joined().catch(() => {});
        return;
      }
      void h.etcd.leaseRevoke(lease.id).catch(() => {});
      const holder = t.responses[0]?.response_range?.kvs[0];
      if (first && Date.now() > until)
        throw new NodeNameTakenError(
          h.cluster,
          h.node,
          holder === undefined ? undefined : JSON.parse(holder.value.toString('utf8')),
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Starts the keep-alive loop: one keep-alive every TTL/3, the next one scheduled when it settled. */
  schedule(): void {
    const every = this.#h.memberTtlMs / 3;
    const tick = () => {
      this.#timer = setTimeout(() => {
        void this.#keepAlive().finally(() => {
          if (this.#state !== 'stopped') tick();
        });
      }, every);
    };
    tick();
  }

  async #keepAlive(): Promise<void> {
    if (this.#state === 'stopped') return;
    const h = this.#h;
    const sent = performance.now();
    let ttlS: number;
    try {
      ttlS = await h.etcd.keepAliveOnce(
        this.#leaseId,
        Math.max(200, Math.min(h.etcd.callTimeoutMs, h.memberTtlMs / 3)),
      );
    } catch (e) {
      this.#pastDeadline(String(e));
      return;
    }
    // stopping() may have run while the keep-alive was in flight.
    if ((this.#state as ConnectionState) === 'stopped') return;
    if (ttlS > 0) {
      this.#setDeadline(sent + Math.min(h.memberTtlMs, ttlS * 1000) - this.#margin());
      if (this.#state === 'disconnected') this.#state = 'up';
      return;
    }
    await this.rejoin();
  }

  /** etcd dropped our member lease (we were declared down): join as a new incarnation. */
  rejoin(): Promise<void> {
    if (this.#rejoining !== undefined) return this.#rejoining;
    const h = this.#h;
    this.#rejoining = (async () => {
      const old = this.#incarnation;
      this.#disconnect('expired');
      h.membership.delete(h.node, old);
      try {
        await this.join(false);
        await h.rejoined(old);
        this.#log.info(
          { node: h.node, from: old, to: this.#incarnation },
          'rejoined the cluster as a new incarnation',
        );
      } catch (e) {
        this.#log.warn({ node: h.node, err: String(e) }, 'rejoin failed; will retry');
      }
    })().finally(() => {
      this.#rejoining = undefined;
    });
    return this.#rejoining;
  }

  /** The node is leaving: no more keep-alives, rejoins or listeners. */
  stopping(): void {
    this.#state = 'stopped';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#lost.clear();
  }

  /** Revokes the member lease: the member key, names and status go at once. */
  async revoke(): Promise<void> {
    if (this.#leaseId !== '') await this.#h.etcd.leaseRevoke(this.#leaseId, 1000).catch(() => {});
  }
}
