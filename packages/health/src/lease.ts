/**
 * A lease as one candidate sees it: acquire, renew, release, read, and the fence that makes a
 * deposed leader's late writes harmless.
 *
 * Why fencing: a leader can be paused (GC, a blocked event loop, SIGSTOP) past its TTL, lose the
 * lease to a follower, wake up and still believe it leads. Its epoch is then older than the new
 * leader's, so a write that carries its epoch and is checked atomically against the lease is refused.
 */

import { InvalidLeaseOptionsError } from './errors.js';
import { hostInfo } from './host.js';
import {
  checkHolder,
  checkLeaseName,
  checkTtl,
  type FencedTxn,
  type GrantResult,
  type KeepAliveResult,
  type LeaseHolder,
  type LeaseStore,
  type LeaseView,
} from './lease-store.js';

/**
 * This process as a lease holder: `<hostname>:<pid>:<start time>`. One identity per process, so a
 * keeper restarted in the same process continues its tenure (same epoch) instead of waiting out its
 * own lease; a different process, or this PID reused later, is a different holder.
 */
export function defaultHolder(label?: string): LeaseHolder {
  const h = hostInfo();
  return {
    id: `${h.hostname}:${h.pid}:${h.startTime}`,
    pid: h.pid,
    hostname: h.hostname,
    ...(label ? { label } : {}),
  };
}

export interface LeaseOptions {
  readonly ttlMs: number;
  /** Default: this process (defaultHolder()). */
  readonly holder?: LeaseHolder;
}

export class Lease {
  readonly store: LeaseStore;
  readonly name: string;
  readonly holder: LeaseHolder;
  readonly ttlMs: number;
  #epoch: number | undefined;

  constructor(store: LeaseStore, name: string, options: LeaseOptions) {
    if (typeof store !== 'object' || store === null || typeof store.grant !== 'function') {
      throw new InvalidLeaseOptionsError(
        'new Lease(store, ...) needs a LeaseStore such as LmdbLeaseStore.open()',
      );
    }
    this.store = store;
    this.name = checkLeaseName(name);
    this.ttlMs = checkTtl(options?.ttlMs);
    this.holder = checkHolder(options.holder ?? defaultHolder());
  }

  /** The epoch this candidate holds, as of its last successful acquire or renew; undefined if none. */
  get epoch(): number | undefined {
    return this.#epoch;
  }

  async acquire(): Promise<GrantResult> {
    const r = await this.store.grant(this.name, this.holder, this.ttlMs);
    this.#epoch = r.granted ? r.lease.epoch : undefined;
    return r;
  }

  /** Renews only while still the holder of the epoch it acquired. */
  async renew(): Promise<KeepAliveResult> {
    if (this.#epoch === undefined)
      return { renewed: false, reason: 'not_holder', lease: await this.store.get(this.name) };
    const r = await this.store.keepAlive(this.name, this.holder.id, this.#epoch);
    if (!r.renewed) this.#epoch = undefined;
    return r;
  }

  async release(): Promise<boolean> {
    const epoch = this.#epoch;
    this.#epoch = undefined;
    if (epoch === undefined) return false;
    return this.store.revoke(this.name, this.holder.id, epoch);
  }

  read(): Promise<LeaseView | undefined> {
    return this.store.get(this.name);
  }

  checkFence(epoch: number): Promise<LeaseView> {
    return this.store.checkFence(this.name, epoch);
  }

  fencedWrite<T>(epoch: number, write: (tx: FencedTxn) => T): Promise<T> {
    return this.store.fencedWrite(this.name, epoch, write);
  }
}

/** A lease named in a store: a `Lease`, or `{ store, name }` for code that only writes. */
export type FenceTarget = Lease | { readonly store: LeaseStore; readonly name: string };

/**
 * Runs `write` atomically with the check that `epoch` is still the lease's current, valid epoch.
 * Rejects with ERR_LEASE_FENCED, having written nothing, when a newer leader exists or the lease
 * lapsed or was released at that epoch.
 */
export function fencedWrite<T>(target: FenceTarget, epoch: number, write: (tx: FencedTxn) => T): Promise<T> {
  return target.store.fencedWrite(target.name, epoch, write);
}

/**
 * Resolves when `epoch` is the lease's current, valid epoch; rejects ERR_LEASE_FENCED otherwise.
 * A check then a separate write can still race with a failover: for writes outside the lease store,
 * pass the epoch to the resource and let it refuse older ones (the classic fencing token).
 */
export function checkFence(target: FenceTarget, epoch: number): Promise<LeaseView> {
  return target.store.checkFence(target.name, epoch);
}
