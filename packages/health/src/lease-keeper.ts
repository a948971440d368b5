/**
 * The lease keeper: the service that acquires a lease and keeps renewing it, as its OWN supervised
 * child, a SIBLING of the leader's work (never its child, never started by it).
 *
 *   app (one_for_one)
 *   ├── lease-keeper:<name>   leaseKeeperChild({ lease, ttlMs })    renews every ttl/3
 *   └── leader-work           asks the keeper for the epoch, writes fenced with it
 *
 * Why: whoever restarts the work must not stop the renewals. If the keeper lived under the work,
 * every restart of the work would stop it (releasing or abandoning the lease), a follower could take
 * the lease meanwhile, and the restarted work would come back as a follower or with a new epoch:
 * leadership would flap with every crash of the work. As a sibling under one_for_one, a restart of
 * the work, even twenty in a row, never touches the keeper, so the lease never lapses and the epoch
 * never changes. (Do not use one_for_all for that supervisor; rest_for_one is fine with the keeper
 * first: a keeper restart then also restarts the work, which re-reads the epoch.)
 *
 * A keeper that is not the leader is a candidate: it tries to acquire every renew interval, and
 * right when the current lease runs out, so a follower takes over within TTL + one interval of
 * the leader's last renewal.
 */
import {
  type ChildSpec,
  type Clock,
  call,
  type DownMessage,
  defineServer,
  noreply,
  type Pid,
  reply,
  type ServerContext,
  startServer,
  type TimerHandle,
} from '@trellis/core';
import { LEASE_DEFAULTS } from './defaults.js';
import { InvalidLeaseOptionsError, LeaseKeeperNotFoundError } from './errors.js';
import { defaultHolder } from './lease.js';
import {
  checkHolder,
  checkLeaseName,
  checkTtl,
  type LeaseHolder,
  type LeaseStore,
  type LeaseView,
} from './lease-store.js';
import { LmdbLeaseStore } from './lmdb-lease-store.js';

export interface LeaseKeeperOptions {
  /** The lease's name. */
  readonly lease: string;
  readonly ttlMs: number;
  /** Time between renewals (and between acquire attempts of a follower). Default ttlMs / 3. */
  readonly renewIntervalMs?: number;
  /** The store (default: an LmdbLeaseStore on `dir`, opened in init and closed in terminate). */
  readonly store?: LeaseStore;
  /** Directory of the default store. Precedence: this > TRELLIS_HOME > `<cwd>/.trellis`. */
  readonly dir?: string;
  /** Store clock of the default store (tests: a simulated clock's now). */
  readonly now?: () => number;
  /** Default: this process (defaultHolder()). */
  readonly holder?: LeaseHolder;
  /** Release the lease when stopped in order (default true): a follower takes over at once. */
  readonly releaseOnStop?: boolean;
  /** Registered name of the keeper (default `lease:<lease>`). */
  readonly name?: string;
  /** Child id (default `lease-keeper:<lease>`). */
  readonly id?: string;
  /** Clock of the timers (default: the supervisor's). */
  readonly clock?: Clock;
  /** Called in the keeper on every change of role or epoch. */
  readonly onChange?: (status: LeaseStatus) => void;
}

export type LeaseRole = 'leader' | 'follower';

export interface LeaseStatus {
  readonly lease: string;
  readonly role: LeaseRole;
  /** The epoch this keeper holds (null unless leader): pass it to fencedWrite. */
  readonly epoch: number | null;
  /** The lease's holder and epoch when the keeper last looked. */
  readonly holder: LeaseHolder | null;
  readonly currentEpoch: number;
  /** Store-clock ms when our lease lapses unless renewed (null unless leader). */
  readonly expiresAt: number | null;
  /** Store-clock ms of the status (compare with expiresAt). */
  readonly now: number;
  readonly acquisitions: number;
  readonly renewals: number;
  /** Times this keeper lost the lease it held (renewal refused or store unreachable until expiry). */
  readonly losses: number;
  readonly lastError: string | null;
}

/** What a subscriber receives on every change of role or epoch. */
export interface LeaseStatusMessage {
  readonly type: '$lease_status';
  readonly status: LeaseStatus;
}

export type LeaseKeeperRequest = { readonly op: 'status' } | { readonly op: 'subscribe'; readonly pid: Pid };

interface State {
  readonly o: Required<Pick<LeaseKeeperOptions, 'lease' | 'ttlMs' | 'renewIntervalMs' | 'releaseOnStop'>> &
    LeaseKeeperOptions;
  readonly store: LeaseStore;
  readonly ownsStore: boolean;
  readonly holder: LeaseHolder;
  readonly clock: Clock;
  role: LeaseRole;
  epoch: number | null;
  seen: LeaseView | undefined;
  expiresAt: number | null;
  acquisitions: number;
  renewals: number;
  losses: number;
  lastError: string | null;
  timer: TimerHandle | undefined;
  subscribers: Set<Pid>;
  /** Unsubscribes from the store's change notifications (stores that have `watch`). */
  unwatch: (() => void) | undefined;
}

interface TickMessage {
  readonly type: '$lease_tick' | '$lease_wake';
}

function normalize(o: LeaseKeeperOptions): State['o'] {
  if (typeof o !== 'object' || o === null)
    throw new InvalidLeaseOptionsError('leaseKeeperChild needs { lease, ttlMs }');
  checkLeaseName(o.lease);
  const ttlMs = checkTtl(o.ttlMs);
  const renewIntervalMs = o.renewIntervalMs ?? ttlMs / LEASE_DEFAULTS.renewsPerTtl;
  if (typeof renewIntervalMs !== 'number' || !(renewIntervalMs > 0) || renewIntervalMs >= ttlMs) {
    throw new InvalidLeaseOptionsError(
      `renewIntervalMs is ${JSON.stringify(o.renewIntervalMs)}; it must be > 0 and well below ttlMs (${ttlMs}), typically ttlMs / 3, so a late renewal still lands before the lease lapses`,
      { field: 'renewIntervalMs' },
    );
  }
  if (o.holder !== undefined) checkHolder(o.holder);
  if (o.store !== undefined && (typeof o.store !== 'object' || typeof o.store.grant !== 'function')) {
    throw new InvalidLeaseOptionsError('store must implement LeaseStore (e.g. LmdbLeaseStore.open())');
  }
  return { ...o, ttlMs, renewIntervalMs, releaseOnStop: o.releaseOnStop ?? LEASE_DEFAULTS.releaseOnStop };
}

function status(s: State): LeaseStatus {
  return {
    lease: s.o.lease,
    role: s.role,
    epoch: s.epoch,
    holder: s.seen?.holder ?? null,
    currentEpoch: s.seen?.epoch ?? 0,
    expiresAt: s.role === 'leader' ? s.expiresAt : null,
    now: s.store.now(),
    acquisitions: s.acquisitions,
    renewals: s.renewals,
    losses: s.losses,
    lastError: s.lastError,
  };
}

function changed(s: State, ctx: ServerContext): void {
  const st = status(s);
  try {
    s.o.onChange?.(st);
  } catch {
    // A faulty callback must not stop the renewals.
  }
  for (const pid of s.subscribers)
    ctx.send(pid, { type: '$lease_status', status: st } satisfies LeaseStatusMessage);
}

/** What a keep-alive race resolves with when our own deadline passed first. */
const DEADLINE = Symbol('lease deadline');

/**
 * Waits for `p`, but no later than our own deadline `expiresAt` (store clock). A store across the
 * network can hang in a partition far longer than the lease lasts; the leader must stop claiming
 * the lease at its deadline whatever the store does (for a store whose calls return at once, as
 * LMDB's, `p` settles first and nothing changes).
 */
function beforeDeadline<T>(s: State, p: Promise<T>): Promise<T | typeof DEADLINE> {
  if (s.expiresAt === null) return p;
  const ms = Math.max(0, s.expiresAt - s.store.now());
  return new Promise((resolve, reject) => {
    const t = s.clock.setTimeout(() => resolve(DEADLINE), ms);
    p.then(
      (v) => {
        s.clock.clearTimeout(t);
        resolve(v);
      },
      (e) => {
        s.clock.clearTimeout(t);
        reject(e);
      },
    );
  });
}

function stepDown(s: State, ctx: ServerContext, why: string | null): void {
  s.losses++;
  s.role = 'follower';
  s.epoch = null;
  s.expiresAt = null;
  if (why !== null) s.lastError = why;
  // Tell subscribers now: the attempt to acquire again may take as long as the store is slow.
  changed(s, ctx);
}

/** One step: renew when leading, else try to acquire. Store failures are kept, never thrown. */
async function step(s: State, ctx: ServerContext): Promise<void> {
  let before = `${s.role}/${s.epoch}`;
  // Our deadline passed between two steps (the last renewal failed, and the store never confirmed
  // one since): no longer the leader, whatever the store may still say.
  if (s.role === 'leader' && s.expiresAt !== null && s.store.now() >= s.expiresAt) {
    stepDown(s, ctx, 'the lease deadline passed without a confirmed renewal');
    before = `${s.role}/${s.epoch}`;
  }
  try {
    if (s.role === 'leader' && s.epoch !== null) {
      const r = await beforeDeadline(s, s.store.keepAlive(s.o.lease, s.holder.id, s.epoch));
      if (r === DEADLINE) {
        stepDown(s, ctx, 'the store did not confirm a renewal before the lease deadline');
        before = `${s.role}/${s.epoch}`;
      } else {
        s.seen = r.lease;
        if (r.renewed) {
          s.renewals++;
          s.expiresAt = r.lease.expiresAt;
        } else {
          s.losses++;
          s.role = 'follower';
          s.epoch = null;
          s.expiresAt = null;
        }
      }
    }
    if (s.role === 'follower') {
      const r = await s.store.grant(s.o.lease, s.holder, s.o.ttlMs);
      s.seen = r.lease;
      if (r.granted) {
        s.role = 'leader';
        s.epoch = r.lease.epoch;
        s.expiresAt = r.lease.expiresAt;
        s.acquisitions++;
      }
    }
    s.lastError = null;
  } catch (e) {
    s.lastError = (e as Error)?.message ?? String(e);
    // Unreachable store: past our own deadline we can no longer claim to lead.
    if (s.role === 'leader' && s.expiresAt !== null && s.store.now() >= s.expiresAt) {
      s.losses++;
      s.role = 'follower';
      s.epoch = null;
      s.expiresAt = null;
    }
  }
  if (`${s.role}/${s.epoch}` !== before) changed(s, ctx);
}

function schedule(s: State, ctx: ServerContext): void {
  let delay = s.o.renewIntervalMs;
  // A leader also steps at its own deadline, so that it steps down on time even when the last
  // renewal failed and the next interval would come after the deadline.
  if (s.role === 'leader' && s.expiresAt !== null)
    delay = Math.min(delay, Math.max(0, s.expiresAt - s.store.now()));
  // A follower also tries right when the current lease runs out (never later than one interval).
  if (s.role === 'follower' && s.seen !== undefined && !s.seen.expired) {
    delay = Math.min(delay, Math.max(1, s.seen.expiresAt - s.store.now() + 1));
  }
  s.timer = s.clock.setTimeout(() => {
    if (ctx.alive) ctx.send(ctx.self, { type: '$lease_tick' } satisfies TickMessage);
  }, delay);
}

/** What the keeper's reports show (crash report, sys:get_status): the lease, role, epoch and counters. */
function keeperReport(s: State): Record<string, unknown> {
  return {
    lease: s.o.lease,
    role: s.role,
    epoch: s.epoch,
    holder: s.holder,
    currentHolder: s.seen?.holder ?? null,
    currentEpoch: s.seen?.epoch ?? 0,
    expiresAt: s.expiresAt,
    ttlMs: s.o.ttlMs,
    renewIntervalMs: s.o.renewIntervalMs,
    acquisitions: s.acquisitions,
    renewals: s.renewals,
    losses: s.losses,
    lastError: s.lastError,
    store: s.store.constructor?.name ?? typeof s.store,
    subscribers: s.subscribers.size,
  };
}

const keeperServer = defineServer<State, [State['o']]>({
  // Reports show the lease, not the store: an etcd store reaches the etcd client and its mTLS key.
  formatStatus: ({ state, message, reason }) => ({
    state: state === undefined ? undefined : keeperReport(state),
    message,
    reason,
  }),
  async init(ctx, o) {
    const ownsStore = o.store === undefined;
    const store: LeaseStore = o.store ?? LmdbLeaseStore.open({ dir: o.dir, now: o.now });
    const s: State = {
      o,
      store,
      ownsStore,
      holder: o.holder ?? defaultHolder(o.lease),
      clock: o.clock ?? ctx.clock,
      role: 'follower',
      epoch: null,
      seen: undefined,
      expiresAt: null,
      acquisitions: 0,
      renewals: 0,
      losses: 0,
      lastError: null,
      timer: undefined,
      subscribers: new Set(),
      unwatch: undefined,
    };
    // A kill skips terminate: the timer still must not fire into a dead process, nor the file stay open.
    ctx.node.monitor(() => {
      if (s.timer !== undefined) s.clock.clearTimeout(s.timer);
      s.unwatch?.();
      if (ownsStore) void store.close().catch(() => {});
    }, ctx.self);
    // A store that announces changes (etcd) wakes the keeper at once: a follower takes over as soon
    // as the store freed the lease, not at its next interval.
    s.unwatch = store.watch?.(o.lease, () => {
      if (ctx.alive) ctx.send(ctx.self, { type: '$lease_wake' } satisfies TickMessage);
    });
    // Acquire now, so the work started after the keeper can ask who leads at once.
    await step(s, ctx);
    schedule(s, ctx);
    return s;
  },

  handleCall(req: LeaseKeeperRequest, _from, s, ctx) {
    if (req?.op === 'subscribe' && !s.subscribers.has(req.pid)) {
      s.subscribers.add(req.pid);
      // Its DOWN removes it: a dead subscriber must not pin memory.
      ctx.monitor(req.pid);
    }
    return reply(status(s), s);
  },

  async handleInfo(msg: TickMessage | DownMessage, s, ctx) {
    if (msg?.type === '$lease_tick' || msg?.type === '$lease_wake') {
      // A wake comes between ticks: the pending tick is replaced, so there is one timer at a time.
      if (s.timer !== undefined) s.clock.clearTimeout(s.timer);
      await step(s, ctx);
      schedule(s, ctx);
    } else if (msg?.type === 'DOWN') s.subscribers.delete(msg.pid);
    return noreply(s);
  },

  async terminate(_reason, s) {
    if (s.timer !== undefined) s.clock.clearTimeout(s.timer);
    s.unwatch?.();
    try {
      if (s.o.releaseOnStop && s.role === 'leader' && s.epoch !== null)
        await s.store.revoke(s.o.lease, s.holder.id, s.epoch);
    } catch {
      // Best effort: the lease lapses after its TTL anyway.
    } finally {
      if (s.ownsStore) await s.store.close();
    }
  },
});

/** A child spec for the keeper of `options.lease` (a sibling of the leader's work; see the module comment). */
export function leaseKeeperChild(options: LeaseKeeperOptions): ChildSpec {
  const o = normalize(options);
  return {
    id: o.id ?? `lease-keeper:${o.lease}`,
    start: (ctx) =>
      startServer(
        keeperServer,
        [{ ...o, clock: o.clock ?? ctx.clock }],
        {
          link: ctx.parent,
          parent: ctx.parent,
          name: o.name ?? `lease:${o.lease}`,
          trapExit: true,
          clock: o.clock ?? ctx.clock,
        },
        ctx.node,
      ),
    restart: 'permanent',
    shutdown: 5000,
    type: 'worker',
  };
}

/** The keeper's status (role, epoch, deadline), by its pid or registered name (default `lease:<lease>`). */
export async function leaseStatus(keeper: Pid | string): Promise<LeaseStatus> {
  try {
    return await call<LeaseStatus>(keeper, { op: 'status' } satisfies LeaseKeeperRequest);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_NOPROC') throw new LeaseKeeperNotFoundError(String(keeper));
    throw e;
  }
}

/** Whether a status still entitles its holder to act as leader now (store clock). */
export function isLeading(s: LeaseStatus): boolean {
  return s.role === 'leader' && s.expiresAt !== null && s.now < s.expiresAt;
}
