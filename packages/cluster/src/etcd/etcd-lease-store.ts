/**
 * `LeaseStore` on etcd (docs/leases.md, docs/cluster.md): the same contract as LmdbLeaseStore, so
 * `leaseKeeperChild`, `Lease`, `fencedWrite` and `checkFence` run unchanged across machines.
 *
 *   lease key   <prefix>leases/<name> = { holder, ttlMs }, attached to an etcd lease of that TTL
 *   epoch       the lease key's create_revision: every new tenure creates the key anew, at a revision
 *               higher than any before in the whole etcd cluster (a fencing token for free)
 *   grant       Txn(create_revision(key) == 0 → put key with a fresh etcd lease; else range key)
 *   keepAlive   check the key (holder, epoch), then LeaseKeepAlive on the key's own etcd lease
 *   fencedWrite Txn(create_revision(lease key) == epoch ∧ mod_revision(each key read) unchanged →
 *               the puts), etcd's STM: the write function may run again when a key it read changed
 *
 * Time. etcd enforces the TTL on its side (and only ever later than asked: it checks expiry about
 * every 500 ms, and a new etcd leader extends every lease). The holder's deadline is ours: the SEND
 * time of the keep-alive (or grant) that etcd answered, plus the TTL, minus a margin. etcd cannot
 * have expired the lease before that, because it received the keep-alive after we sent it. A rival
 * is granted only after etcd deleted the key, so a holder that stops at its deadline never overlaps
 * a successor. The store clock is this host's CLOCK_MONOTONIC (`now`), never compared across hosts.
 */
import {
  checkGrant,
  checkLeaseName,
  checkTenure,
  type FencedTxn,
  type GrantResult,
  hostMonotonicMs,
  type KeepAliveResult,
  LeaseFencedError,
  type LeaseHolder,
  type LeaseStore,
  LeaseStoreClosedError,
  type LeaseView,
} from '@trellis/health';
import type { IKeyValue, IRequestOp, Watcher } from 'etcd3';
import { InvalidClusterOptionsError } from '../errors.js';
import { EtcdConnection, type EtcdOptions, enc, num, Result, Target } from './etcd-connection.js';

export interface EtcdLeaseStoreOptions {
  /** An open connection (shared, not closed by the store), or options to open one. */
  readonly etcd: EtcdConnection | EtcdOptions;
  /** Key prefix of this store (default '/trellis/'): leases under `<prefix>leases/`, fenced data under `<prefix>fenced/`. */
  readonly prefix?: string;
  /** Safety margin subtracted from every deadline (default max(100 ms, ttl / 10)). */
  readonly marginMs?: number;
  /** The store clock (default this host's monotonic clock). */
  readonly now?: () => number;
}

interface LeaseValue {
  readonly holder: LeaseHolder;
  readonly ttlMs: number;
}

/** What this store knows of a tenure it granted itself (the exact deadlines; etcd only has seconds). */
interface Own {
  readonly epoch: number;
  readonly leaseId: string;
  readonly grantedAt: number;
  renewedAt: number;
  expiresAt: number;
  renewals: number;
}

const NEED_KEY = Symbol('need key');
const MAX_STM_ATTEMPTS = 64;

export class EtcdLeaseStore implements LeaseStore {
  readonly etcd: EtcdConnection;
  readonly prefix: string;
  readonly #ownsConnection: boolean;
  readonly #margin: number | undefined;
  readonly #now: () => number;
  readonly #own = new Map<string, Own>();
  readonly #listeners = new Map<string, Set<() => void>>();
  #watcher: Promise<Watcher> | undefined;
  #closed = false;

  private constructor(etcd: EtcdConnection, owns: boolean, o: EtcdLeaseStoreOptions) {
    this.etcd = etcd;
    this.#ownsConnection = owns;
    this.prefix = o.prefix ?? '/trellis/';
    if (!this.prefix.endsWith('/'))
      throw new InvalidClusterOptionsError(`prefix "${this.prefix}" must end with "/"`, { field: 'prefix' });
    if (o.marginMs !== undefined && !(o.marginMs >= 0))
      throw new InvalidClusterOptionsError(`marginMs is ${o.marginMs}; use a number >= 0`, {
        field: 'marginMs',
      });
    this.#margin = o.marginMs;
    this.#now = o.now ?? hostMonotonicMs;
  }

  /** Opens the store; with etcd options, connects first (ERR_CLUSTER_UNAVAILABLE when etcd does not answer). */
  static async open(o: EtcdLeaseStoreOptions): Promise<EtcdLeaseStore> {
    if (o.etcd instanceof EtcdConnection) return new EtcdLeaseStore(o.etcd, false, o);
    return new EtcdLeaseStore(await EtcdConnection.connect(o.etcd), true, o);
  }

  now(): number {
    return this.#now();
  }

  leaseKey(name: string): string {
    return `${this.prefix}leases/${name}`;
  }

  dataKey(key: string): string {
    return `${this.prefix}fenced/${key}`;
  }

  #margin_(ttlMs: number): number {
    return this.#margin ?? Math.max(100, ttlMs / 10);
  }

  #check(op: string): void {
    if (this.#closed) throw new LeaseStoreClosedError(op);
  }

  #parse(kv: IKeyValue): LeaseValue {
    return JSON.parse(kv.value.toString('utf8')) as LeaseValue;
  }

  /** A view of the lease key; `remainingMs` from our own deadline when we hold it, else etcd's TTL. */
  #view(name: string, kv: IKeyValue, remainingMs: number): LeaseView {
    const now = this.now();
    const v = this.#parse(kv);
    const epoch = num(kv.create_revision);
    const own = this.#own.get(name);
    const mine = own !== undefined && own.epoch === epoch;
    const expiresAt = mine ? own.expiresAt : now + remainingMs;
    const remaining = Math.max(0, expiresAt - now);
    return {
      name,
      holder: v.holder,
      epoch,
      ttlMs: v.ttlMs,
      grantedAt: mine ? own.grantedAt : now,
      renewedAt: mine ? own.renewedAt : now,
      expiresAt,
      renewals: mine ? own.renewals : 0,
      wallExpiresAt: Date.now() + remaining,
      bootId: 'etcd',
      now,
      expired: remaining <= 0,
      remainingMs: remaining,
    };
  }

  /**
   * A rival's lease as etcd sees it. etcd reports whole seconds and deletes the key up to ~0.5 s
   * after the TTL ran out, so a key that is still there is reported with at least 100 ms left: a
   * follower polling at `expiresAt` then does not spin while etcd catches up.
   */
  async #foreignView(name: string, kv: IKeyValue): Promise<LeaseView> {
    let ttlS = -1;
    try {
      ttlS = await this.etcd.leaseTtl(String(kv.lease));
    } catch {
      // The view is advisory; the decisions are etcd's transactions.
    }
    return this.#view(name, kv, Math.max(100, ttlS * 1000));
  }

  async grant(name: string, holder: LeaseHolder, ttlMs: number): Promise<GrantResult> {
    this.#check('grant');
    checkGrant(name, holder, ttlMs);
    const key = this.leaseKey(name);
    const cur = (await this.etcd.range(key)).kv;
    if (cur !== undefined) {
      if (this.#parse(cur).holder.id !== holder.id)
        return { granted: false, lease: await this.#foreignView(name, cur) };
      // Our own tenure, still in etcd: renew it (same epoch), as the LMDB store does.
      const r = await this.#renew(name, cur, ttlMs);
      if (r !== undefined) return { granted: true, lease: r, previous: undefined };
      return { granted: false, lease: this.#view(name, cur, 0) };
    }
    const sent = this.now();
    const lease = await this.etcd.leaseGrant(Math.ceil(ttlMs / 1000));
    const value = enc(JSON.stringify({ holder, ttlMs } satisfies LeaseValue));
    const t = await this.etcd.txn(
      [{ key: enc(key), target: Target.create, result: Result.equal, create_revision: 0 }],
      [{ request_put: { key: enc(key), value, lease: lease.id } }],
      [{ request_range: { key: enc(key) } }],
    );
    if (!t.succeeded) {
      void this.etcd.leaseRevoke(lease.id).catch(() => {});
      const kv = t.responses[0]?.response_range?.kvs[0];
      if (kv === undefined) return this.grant(name, holder, ttlMs); // freed in between: try again
      return { granted: false, lease: await this.#foreignView(name, kv) };
    }
    const epoch = num(t.header.revision);
    const expiresAt = sent + Math.min(ttlMs, lease.ttlS * 1000) - this.#margin_(ttlMs);
    this.#own.set(name, {
      epoch,
      leaseId: lease.id,
      grantedAt: sent,
      renewedAt: sent,
      expiresAt,
      renewals: 0,
    });
    const kv: IKeyValue = {
      key: enc(key),
      value,
      create_revision: String(epoch),
      mod_revision: String(epoch),
      version: '1',
      lease: lease.id,
    };
    return { granted: true, lease: this.#view(name, kv, 0), previous: undefined };
  }

  /** LeaseKeepAlive on the key's etcd lease; the new deadline counts from the SEND time. */
  async #renew(name: string, kv: IKeyValue, ttlMs: number): Promise<LeaseView | undefined> {
    const sent = this.now();
    const ttlS = await this.etcd.keepAliveOnce(String(kv.lease));
    if (ttlS <= 0) return undefined;
    const epoch = num(kv.create_revision);
    const expiresAt = sent + Math.min(ttlMs, ttlS * 1000) - this.#margin_(ttlMs);
    const own = this.#own.get(name);
    if (own !== undefined && own.epoch === epoch) {
      own.renewedAt = sent;
      own.expiresAt = expiresAt;
      own.renewals++;
    } else {
      this.#own.set(name, {
        epoch,
        leaseId: String(kv.lease),
        grantedAt: sent,
        renewedAt: sent,
        expiresAt,
        renewals: 1,
      });
    }
    return this.#view(name, kv, 0);
  }

  async keepAlive(name: string, holderId: string, epoch: number): Promise<KeepAliveResult> {
    this.#check('keepAlive');
    checkTenure(name, epoch);
    const kv = (await this.etcd.range(this.leaseKey(name))).kv;
    if (kv === undefined) return { renewed: false, reason: 'expired', lease: undefined };
    if (num(kv.create_revision) !== epoch)
      return { renewed: false, reason: 'superseded', lease: await this.#foreignView(name, kv) };
    const v = this.#parse(kv);
    if (v.holder.id !== holderId)
      return { renewed: false, reason: 'not_holder', lease: await this.#foreignView(name, kv) };
    const lease = await this.#renew(name, kv, v.ttlMs);
    if (lease === undefined) return { renewed: false, reason: 'expired', lease: this.#view(name, kv, 0) };
    return { renewed: true, lease };
  }

  async revoke(name: string, holderId: string, epoch: number): Promise<boolean> {
    this.#check('revoke');
    checkTenure(name, epoch);
    const kv = (await this.etcd.range(this.leaseKey(name))).kv;
    if (kv === undefined || num(kv.create_revision) !== epoch || this.#parse(kv).holder.id !== holderId)
      return false;
    // Revoking deletes the key with the lease. Between the check and the revoke, only etcd's expiry
    // can remove the key, and then this lease id is dead and the revoke is a no-op.
    this.#own.delete(name);
    try {
      await this.etcd.leaseRevoke(String(kv.lease));
    } catch {
      return false;
    }
    return true;
  }

  async get(name: string): Promise<LeaseView | undefined> {
    this.#check('get');
    checkLeaseName(name);
    const kv = (await this.etcd.range(this.leaseKey(name))).kv;
    if (kv === undefined) return undefined;
    const own = this.#own.get(name);
    if (own !== undefined && own.epoch === num(kv.create_revision)) return this.#view(name, kv, 0);
    return this.#foreignView(name, kv);
  }

  async list(): Promise<LeaseView[]> {
    this.#check('list');
    const p = `${this.prefix}leases/`;
    const { kvs } = await this.etcd.rangePrefix(p);
    return Promise.all(
      kvs.map((kv) => {
        const name = kv.key.toString('utf8').slice(p.length);
        const own = this.#own.get(name);
        return own !== undefined && own.epoch === num(kv.create_revision)
          ? this.#view(name, kv, 0)
          : this.#foreignView(name, kv);
      }),
    );
  }

  async checkFence(name: string, epoch: number): Promise<LeaseView> {
    this.#check('checkFence');
    checkTenure(name, epoch);
    const kv = (await this.etcd.range(this.leaseKey(name))).kv;
    this.#refusal(name, epoch, kv);
    return this.get(name) as Promise<LeaseView>;
  }

  /** Throws ERR_LEASE_FENCED unless `kv` is the lease at `epoch`. */
  #refusal(name: string, epoch: number, kv: IKeyValue | undefined): asserts kv is IKeyValue {
    if (kv === undefined) throw new LeaseFencedError(name, epoch, undefined, 'expired');
    const cur = num(kv.create_revision);
    if (cur === epoch) return;
    throw new LeaseFencedError(name, epoch, cur, epoch > cur ? 'unknown_epoch' : 'superseded');
  }

  async fencedWrite<T>(name: string, epoch: number, write: (tx: FencedTxn) => T): Promise<T> {
    this.#check('fencedWrite');
    checkTenure(name, epoch);
    const leaseKey = enc(this.leaseKey(name));
    // The read set: every key the write function read, with the mod_revision it had (0: absent).
    const reads = new Map<string, { value: unknown; mod: number }>();
    for (let attempt = 0; attempt < MAX_STM_ATTEMPTS; attempt++) {
      const writes = new Map<string, { value: unknown } | null>();
      let missing: string | undefined;
      const tx: FencedTxn = {
        get: (k) => {
          const w = writes.get(k);
          if (w !== undefined) return w?.value;
          const r = reads.get(k);
          if (r === undefined) {
            missing = k;
            throw NEED_KEY;
          }
          return r.value;
        },
        put: (k, v) => {
          writes.set(k, { value: v });
        },
        remove: (k) => {
          writes.set(k, null);
        },
      };
      let result: T;
      try {
        result = write(tx);
      } catch (e) {
        if (e !== NEED_KEY || missing === undefined) throw e;
        // Not read yet: fetch it and run the function again (its writes so far are discarded).
        const kv = (await this.etcd.range(this.dataKey(missing))).kv;
        reads.set(missing, this.#decode(kv));
        continue;
      }
      const compare = [
        { key: leaseKey, target: Target.create, result: Result.equal, create_revision: epoch },
        ...[...reads].map(([k, r]) => ({
          key: enc(this.dataKey(k)),
          target: Target.mod,
          result: Result.equal,
          mod_revision: r.mod,
        })),
      ];
      const ops: IRequestOp[] = [...writes].map(([k, w]) =>
        w === null
          ? { request_delete_range: { key: enc(this.dataKey(k)) } }
          : { request_put: { key: enc(this.dataKey(k)), value: enc(JSON.stringify(w.value ?? null)) } },
      );
      const failure: IRequestOp[] = [
        { request_range: { key: leaseKey } },
        ...[...reads.keys()].map((k) => ({ request_range: { key: enc(this.dataKey(k)) } })),
      ];
      const t = await this.etcd.txn(compare, ops, failure);
      if (t.succeeded) return result;
      this.#refusal(name, epoch, t.responses[0]?.response_range?.kvs[0]);
      // The fence held, so a key we read changed under us: take the new values and run again,
      // after a short random pause so that writers contending for one key do not retry in lockstep.
      [...reads.keys()].forEach((k, i) => {
        reads.set(k, this.#decode(t.responses[i + 1]?.response_range?.kvs[0]));
      });
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt + 1)));
    }
    throw new Error(
      `fencedWrite on lease "${name}": the keys it reads kept changing (${MAX_STM_ATTEMPTS} attempts)`,
    );
  }

  #decode(kv: IKeyValue | undefined): { value: unknown; mod: number } {
    if (kv === undefined) return { value: undefined, mod: 0 };
    return { value: JSON.parse(kv.value.toString('utf8')), mod: num(kv.mod_revision) };
  }

  async readFenced(key: string): Promise<unknown> {
    this.#check('readFenced');
    return this.#decode((await this.etcd.range(this.dataKey(key))).kv).value;
  }

  /**
   * Calls `onChange` whenever the lease key is put or deleted (an expiry, a revoke, a new holder): a
   * follower keeper tries at once instead of at its next interval, so failover is bounded by etcd's
   * expiry, not by the polling period. Returns the unsubscribe function.
   */
  watch(name: string, onChange: () => void): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(onChange);
    if (this.#watcher === undefined && !this.#closed) {
      const p = `${this.prefix}leases/`;
      this.#watcher = this.etcd.watchPrefix(p);
      this.#watcher.then(
        (w) => {
          const fire = (kv: IKeyValue) => {
            for (const cb of this.#listeners.get(kv.key.toString('utf8').slice(p.length)) ?? []) {
              try {
                cb();
              } catch {
                // a listener's fault is its own
              }
            }
          };
          w.on('put', fire);
          w.on('delete', fire);
          w.on('error', () => {});
          if (this.#closed) void w.cancel().catch(() => {});
        },
        () => {
          this.#watcher = undefined;
        },
      );
    }
    return () => {
      set.delete(onChange);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    const w = this.#watcher;
    if (w !== undefined) await w.then((x) => x.cancel()).catch(() => {});
    if (this.#ownsConnection) this.etcd.close();
  }
}
