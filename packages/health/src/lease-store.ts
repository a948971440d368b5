/**
 * The storage contract behind leader leases (docs/leases.md). `LmdbLeaseStore` implements it for
 * every process of one host; the method names follow etcd's lease API so that a distributed store
 * can implement it later without changing the keeper or the callers:
 *
 *   grant      etcd: LeaseGrant(TTL) + Txn(if key absent or its lease expired: put key with lease)
 *   keepAlive  etcd: LeaseKeepAlive(leaseId), after checking the key still names this holder
 *   revoke     etcd: LeaseRevoke(leaseId) (the key goes with it)
 *   get/list   etcd: Range on the key / prefix
 *   epoch      etcd: the key's create_revision: it grows with every new leader, a fencing token
 *   fencedWrite  etcd: Txn(compare create_revision(lease key) == epoch, then the puts)
 *
 * Every mutating operation must be atomic against every other user of the same store.
 */

import { LEASE_DEFAULTS } from './defaults.js';
import { InvalidLeaseOptionsError } from './errors.js';

/** Who holds a lease. `id` is what renew/release compare; the rest is for people reading it. */
export interface LeaseHolder {
  readonly id: string;
  readonly pid?: number;
  readonly hostname?: string;
  readonly label?: string;
}

export interface LeaseRecord {
  readonly name: string;
  /** null: never held, or released. */
  readonly holder: LeaseHolder | null;
  /** The fencing token: +1 on every grant to a new tenure; 0 when never granted. */
  readonly epoch: number;
  readonly ttlMs: number;
  /** Store-clock ms when this epoch began. */
  readonly grantedAt: number;
  readonly renewedAt: number;
  /** Store-clock ms at which the lease lapses unless renewed. */
  readonly expiresAt: number;
  /** Renewals within this epoch. */
  readonly renewals: number;
  /** Wall-clock estimate of expiresAt, for display only (never compared). */
  readonly wallExpiresAt: number;
  /** The store clock of the LMDB store is per boot: a record from another boot is expired. */
  readonly bootId: string;
}

/** A record as read at `now` (store clock). */
export interface LeaseView extends LeaseRecord {
  readonly now: number;
  /** No valid holder: released, never held, past expiresAt, or from another boot. */
  readonly expired: boolean;
  /** Milliseconds left before it lapses (0 when expired). */
  readonly remainingMs: number;
}

export type GrantResult =
  | { readonly granted: true; readonly lease: LeaseView; readonly previous: LeaseView | undefined }
  | { readonly granted: false; readonly lease: LeaseView };

export type KeepAliveRefusal = 'not_holder' | 'superseded' | 'expired' | 'released' | 'unknown_lease';

export type KeepAliveResult =
  | { readonly renewed: true; readonly lease: LeaseView }
  | { readonly renewed: false; readonly reason: KeepAliveRefusal; readonly lease: LeaseView | undefined };

/** What a fenced write may do, inside the same atomic step as the epoch check. */
export interface FencedTxn {
  get(key: string): unknown;
  put(key: string, value: unknown): void;
  remove(key: string): void;
}

export interface LeaseStore {
  /** The store's clock (ms) that expiresAt and now are in. */
  now(): number;
  /**
   * Acquire. Granted when the lease is free (never held, released or expired: the epoch goes +1),
   * or already held by `holder.id` and not expired (same epoch, deadline extended). Otherwise not
   * granted, with the current holder in `lease`.
   */
  grant(name: string, holder: LeaseHolder, ttlMs: number): Promise<GrantResult>;
  /** Renew: only when `holderId` still holds `epoch` and the lease has not expired. */
  keepAlive(name: string, holderId: string, epoch: number): Promise<KeepAliveResult>;
  /** Release: only by its holder at that epoch; the epoch stays, the next grant bumps it. */
  revoke(name: string, holderId: string, epoch: number): Promise<boolean>;
  get(name: string): Promise<LeaseView | undefined>;
  list(): Promise<LeaseView[]>;
  /** Resolves with the lease when `epoch` is its current, valid epoch; else rejects ERR_LEASE_FENCED. */
  checkFence(name: string, epoch: number): Promise<LeaseView>;
  /** Runs `write` atomically with the fence check; rejects ERR_LEASE_FENCED (and writes nothing) on a stale epoch. */
  fencedWrite<T>(name: string, epoch: number, write: (tx: FencedTxn) => T): Promise<T>;
  /** Reads a value written by fencedWrite (reads need no fence). */
  readFenced(key: string): Promise<unknown>;
  /**
   * Optional: calls `onChange` when the lease changes in the store (a new holder, an expiry, a
   * release) and returns the unsubscribe function. A keeper then tries at once instead of at its
   * next interval. A store without it (LMDB) is polled.
   */
  watch?(name: string, onChange: () => void): () => void;
  close(): Promise<void>;
}

/** A grant's arguments, checked the same way by every store before it asks its backend. */
export function checkGrant(name: unknown, holder: unknown, ttlMs: unknown): void {
  checkLeaseName(name);
  checkHolder(holder);
  checkTtl(ttlMs);
}

/** The tenure (lease name and epoch) that keepAlive, revoke, checkFence and fencedWrite act on. */
export function checkTenure(name: unknown, epoch: unknown): void {
  checkLeaseName(name);
  checkEpoch(epoch);
}

export function checkLeaseName(name: unknown, what = 'lease name'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > LEASE_DEFAULTS.maxNameLength) {
    throw new InvalidLeaseOptionsError(
      `${what} is ${JSON.stringify(name)}; use a non-empty string of at most ${LEASE_DEFAULTS.maxNameLength} characters`,
      { field: what },
    );
  }
  return name;
}

export function checkTtl(ttlMs: unknown): number {
  if (
    typeof ttlMs !== 'number' ||
    !Number.isFinite(ttlMs) ||
    ttlMs < LEASE_DEFAULTS.minTtlMs ||
    ttlMs > LEASE_DEFAULTS.maxTtlMs
  ) {
    throw new InvalidLeaseOptionsError(
      `ttlMs is ${JSON.stringify(ttlMs)}; use a number of milliseconds from ${LEASE_DEFAULTS.minTtlMs} to ${LEASE_DEFAULTS.maxTtlMs}`,
      { field: 'ttlMs' },
    );
  }
  return ttlMs;
}

export function checkEpoch(epoch: unknown): number {
  if (!Number.isInteger(epoch) || (epoch as number) < 1) {
    throw new InvalidLeaseOptionsError(
      `epoch is ${JSON.stringify(epoch)}; pass the epoch a grant returned (a whole number >= 1)`,
      {
        field: 'epoch',
      },
    );
  }
  return epoch as number;
}

export function checkHolder(holder: unknown): LeaseHolder {
  const h = holder as LeaseHolder;
  if (
    typeof h !== 'object' ||
    h === null ||
    typeof h.id !== 'string' ||
    h.id.length === 0 ||
    h.id.length > LEASE_DEFAULTS.maxNameLength
  ) {
    throw new InvalidLeaseOptionsError(
      `holder is ${JSON.stringify(holder)}; pass { id } with a non-empty id unique to this candidate (defaultHolder() makes one per process)`,
      { field: 'holder' },
    );
  }
  return h;
}
