/**
 * Leases in LMDB, shared by every process of the host that opens the same directory
 * (`<dir>/leases.mdb`, dir as for the registry: option > TRELLIS_HOME > `<cwd>/.trellis`).
 *
 * Atomicity. Every operation that decides something (grant, keepAlive, revoke, fencedWrite) is ONE
 * `transactionSync`: LMDB lets one write transaction at a time run across all processes mapping
 * the file (the writer mutex lives in the shared lock file), and a write transaction reads the latest
 * committed state. So "read the lease, decide, write it" cannot interleave with another process's,
 * and two candidates racing for a free lease get exactly one grant. (lmdb-js's versioned
 * `ifVersion` puts would give the same compare-and-set, but only for one key, and the fenced write
 * must check the lease key and write other keys in the same step.) The mutex is robust: a process
 * killed inside a transaction aborts it and the next writer proceeds.
 *
 * Time. Deadlines are in the host's CLOCK_MONOTONIC (see host.ts), which every process of the host
 * shares and nobody can step; each record also carries the boot id, since a reboot restarts that
 * clock. Tests inject `now` to drive leases with a simulated clock.
 *
 * Layout (msgpack values): `meta:version`, `lease:<name>` -> LeaseRecord, `fenced:<key>` -> value.
 */
import { resolveHomeDir } from '@trellis/home';
import { LEASE_DEFAULTS } from './defaults.js';
import { LeaseFencedError, LeaseStoreClosedError } from './errors.js';
import { hostInfo, hostMonotonicMs } from './host.js';
import {
  checkGrant,
  checkLeaseName,
  checkTenure,
  type FencedTxn,
  type GrantResult,
  type KeepAliveResult,
  type LeaseHolder,
  type LeaseRecord,
  type LeaseStore,
  type LeaseView,
} from './lease-store.js';
import { type Db, openLmdbFile } from './lmdb-file.js';

export interface LmdbLeaseStoreOptions {
  /** Precedence: this > TRELLIS_HOME > `<cwd>/.trellis`. */
  readonly dir?: string;
  /** The store clock in ms (default: the host's CLOCK_MONOTONIC). Every user of a file must share it. */
  readonly now?: () => number;
}

const leaseKey = (name: string) => `lease:${name}`;
const fencedKey = (key: string) => `fenced:${key}`;
const LEASE_RANGE = Object.freeze({ start: 'lease:', end: 'lease;' });

export class LmdbLeaseStore implements LeaseStore {
  readonly dir: string;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #bootId: string;
  #closed = false;

  private constructor(dir: string, db: Db, now: () => number) {
    this.dir = dir;
    this.#db = db;
    this.#now = now;
    this.#bootId = hostInfo().bootId;
  }

  /** Opens (creating if needed) the lease file. A bad file is an error, never moved aside (see lmdb-file.ts). */
  static open(options: LmdbLeaseStoreOptions = {}): LmdbLeaseStore {
    const dir = resolveHomeDir({ dir: options.dir });
    const db = openLmdbFile({
      dir,
      fileName: LEASE_DEFAULTS.fileName,
      schemaVersion: LEASE_DEFAULTS.schemaVersion,
      recover: false,
    });
    return new LmdbLeaseStore(dir, db, options.now ?? hostMonotonicMs);
  }

  now(): number {
    return this.#now();
  }

  // ---- the synchronous core (each decision is one write transaction) ------------------------------

  /** One decision: a write transaction, which reads the latest committed state (see Atomicity), at one `now`. */
  #decide<T>(decide: (db: Db, now: number) => T): T {
    const db = this.#db;
    return db.transactionSync(() => decide(db, this.#now()));
  }

  grantSync(name: string, holder: LeaseHolder, ttlMs: number): GrantResult {
    this.#open('grant');
    checkGrant(name, holder, ttlMs);
    return this.#decide((db, now) => {
      const cur = this.#view(db.get(leaseKey(name)) as LeaseRecord | undefined, now);
      if (cur !== undefined && !cur.expired) {
        if (cur.holder?.id !== holder.id) return { granted: false, lease: cur };
        // Its own tenure continues (a restarted keeper of the same process): same epoch.
        const next = this.#put(
          { ...cur, holder, ttlMs, renewedAt: now, expiresAt: now + ttlMs, renewals: cur.renewals + 1 },
          now,
        );
        return { granted: true, lease: next, previous: cur };
      }
      // Free: never held, released, expired or from another boot. A new tenure: the epoch goes up.
      const next = this.#put(
        {
          name,
          holder,
          epoch: (cur?.epoch ?? 0) + 1,
          ttlMs,
          grantedAt: now,
          renewedAt: now,
          expiresAt: now + ttlMs,
          renewals: 0,
          wallExpiresAt: 0,
          bootId: this.#bootId,
        },
        now,
      );
      return { granted: true, lease: next, previous: cur };
    });
  }

  keepAliveSync(name: string, holderId: string, epoch: number): KeepAliveResult {
    this.#open('keepAlive');
    checkTenure(name, epoch);
    return this.#decide((db, now) => {
      const cur = this.#view(db.get(leaseKey(name)) as LeaseRecord | undefined, now);
      if (cur === undefined) return { renewed: false, reason: 'unknown_lease', lease: undefined };
      if (cur.epoch !== epoch) return { renewed: false, reason: 'superseded', lease: cur };
      if (cur.holder === null) return { renewed: false, reason: 'released', lease: cur };
      if (cur.holder.id !== holderId) return { renewed: false, reason: 'not_holder', lease: cur };
      // Strict, as etcd's keepalive of an expired lease: lapsed is lost, even if nobody took it yet.
      if (cur.expired) return { renewed: false, reason: 'expired', lease: cur };
      const next = this.#put(
        { ...cur, renewedAt: now, expiresAt: now + cur.ttlMs, renewals: cur.renewals + 1 },
        now,
      );
      return { renewed: true, lease: next };
    });
  }

  revokeSync(name: string, holderId: string, epoch: number): boolean {
    this.#open('revoke');
    checkTenure(name, epoch);
    return this.#decide((db, now) => {
      const cur = db.get(leaseKey(name)) as LeaseRecord | undefined;
      if (cur === undefined || cur.epoch !== epoch || cur.holder?.id !== holderId) return false;
      this.#put({ ...cur, holder: null, expiresAt: now }, now);
      return true;
    });
  }

  getSync(name: string): LeaseView | undefined {
    this.#open('get');
    checkLeaseName(name);
    this.#db.resetReadTxn();
    return this.#view(this.#db.get(leaseKey(name)) as LeaseRecord | undefined, this.#now());
  }

  listSync(): LeaseView[] {
    this.#open('list');
    this.#db.resetReadTxn();
    const now = this.#now();
    const out: LeaseView[] = [];
    for (const { value } of this.#db.getRange(LEASE_RANGE)) {
      const v = this.#view(value as LeaseRecord, now);
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  checkFenceSync(name: string, epoch: number): LeaseView {
    const cur = this.getSync(name);
    refuseStale(name, epoch, cur);
    return cur!;
  }

  fencedWriteSync<T>(name: string, epoch: number, write: (tx: FencedTxn) => T): T {
    this.#open('fencedWrite');
    checkTenure(name, epoch);
    return this.#decide((db, now) => {
      // Checked inside the write transaction: no grant can slip between the check and the write.
      refuseStale(name, epoch, this.#view(db.get(leaseKey(name)) as LeaseRecord | undefined, now));
      return write({
        get: (k) => db.get(fencedKey(checkLeaseName(k, 'key'))),
        put: (k, v) => void db.putSync(fencedKey(checkLeaseName(k, 'key')), v),
        remove: (k) => void db.removeSync(fencedKey(checkLeaseName(k, 'key'))),
      });
    });
  }

  readFencedSync(key: string): unknown {
    this.#open('readFenced');
    this.#db.resetReadTxn();
    return this.#db.get(fencedKey(checkLeaseName(key, 'key')));
  }

  // ---- LeaseStore (asynchronous face, so a network store fits the same contract) -----------------

  grant(name: string, holder: LeaseHolder, ttlMs: number): Promise<GrantResult> {
    return attempt(() => this.grantSync(name, holder, ttlMs));
  }

  keepAlive(name: string, holderId: string, epoch: number): Promise<KeepAliveResult> {
    return attempt(() => this.keepAliveSync(name, holderId, epoch));
  }

  revoke(name: string, holderId: string, epoch: number): Promise<boolean> {
    return attempt(() => this.revokeSync(name, holderId, epoch));
  }

  get(name: string): Promise<LeaseView | undefined> {
    return attempt(() => this.getSync(name));
  }

  list(): Promise<LeaseView[]> {
    return attempt(() => this.listSync());
  }

  checkFence(name: string, epoch: number): Promise<LeaseView> {
    return attempt(() => this.checkFenceSync(name, epoch));
  }

  fencedWrite<T>(name: string, epoch: number, write: (tx: FencedTxn) => T): Promise<T> {
    return attempt(() => this.fencedWriteSync(name, epoch, write));
  }

  readFenced(key: string): Promise<unknown> {
    return attempt(() => this.readFencedSync(key));
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
  }

  #put(r: LeaseRecord, now: number): LeaseView {
    const rec: LeaseRecord = { ...r, wallExpiresAt: Math.round(Date.now() + (r.expiresAt - now)) };
    this.#db.putSync(leaseKey(r.name), rec);
    return this.#view(rec, now)!;
  }

  #view(r: LeaseRecord | undefined, now: number): LeaseView | undefined {
    if (r === undefined || r === null) return undefined;
    const expired = r.holder === null || r.bootId !== this.#bootId || now >= r.expiresAt;
    return { ...r, now, expired, remainingMs: expired ? 0 : r.expiresAt - now };
  }

  #open(operation: string): void {
    if (this.#closed) throw new LeaseStoreClosedError(operation);
  }
}

/** Throws ERR_LEASE_FENCED unless `epoch` is the current epoch of a held, unexpired lease. */
export function refuseStale(name: string, epoch: number, cur: LeaseView | undefined): void {
  if (cur === undefined || cur.epoch === 0)
    throw new LeaseFencedError(name, epoch, undefined, 'unknown_lease');
  if (epoch < cur.epoch) throw new LeaseFencedError(name, epoch, cur.epoch, 'superseded');
  if (epoch > cur.epoch) throw new LeaseFencedError(name, epoch, cur.epoch, 'unknown_epoch');
  if (cur.holder === null) throw new LeaseFencedError(name, epoch, cur.epoch, 'released');
  if (cur.expired) throw new LeaseFencedError(name, epoch, cur.epoch, 'expired');
}

function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}
