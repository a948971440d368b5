/**
 * Pluggable data sources. The observer shows whatever subset it is given: each source is a small
 * structural interface, so @trellis/health, the gRPC bridge's pools or an application's own code can
 * feed it without the observer depending on them. Sources without `subscribe` are re-read every
 * `pollMs`; with it, a change is pushed to the page within `coalesceMs`.
 */
import { call, type Pid } from '@trellis/core';
import { type ChildRecord, type ChildView, callRegistry } from '@trellis/registry';
import type { PoolLogRecordInput } from './log-tail.js';

export type MaybePromise<T> = T | Promise<T>;

/** Optional change notification: call `onChange` when the data changed; return an unsubscribe. */
export interface Watchable {
  subscribe?(onChange: () => void): () => void;
}

// ---- registry ------------------------------------------------------------------------------------

/**
 * One OS process the registry tracks, as the page shows it: the fields of the registry's own record
 * (@trellis/registry `ChildRecord`) that the page needs, so the two cannot drift apart. `status` is a
 * plain string because any source may feed it; `args` is optional because the snapshot leaves it out
 * (observer.ts stripCommand: a command line may hold secrets).
 */
export type RegistryProcessView = Pick<
  ChildRecord,
  'runId' | 'role' | 'name' | 'pid' | 'command' | 'activatedAt'
> & {
  /** `alive`, `dead`, `reused` (PID now names another process) or `reserved` (not spawned yet). */
  readonly status: string;
  readonly args?: ChildRecord['args'] | undefined;
};

/** One run (one boot of a Trellis system), for sources that know about runs. */
export interface RegistryRunView {
  readonly runId: string;
  readonly hostPid: number;
  /** `alive`, `dead`, `rebooted` or `foreign` (see @trellis/registry judgeRun). */
  readonly host: string;
  readonly startedAt: string;
}

export interface RegistrySource extends Watchable {
  /** The processes to show: usually those of the observed application's run. */
  processes(): MaybePromise<readonly RegistryProcessView[]>;
  /** Runs, when the source shows more than one (the persisted view does). */
  runs?(): MaybePromise<readonly RegistryRunView[]>;
}

/** What the observer needs of a `Registry` (from @trellis/registry) opened in this process. */
export interface RegistryLike {
  readonly runId: string;
  listChildren(runId?: string): readonly ChildView[];
}

/** A registry record as the page shows it; `status` as the registry judged it (`childStatus`). */
export function toProcessView(c: ChildRecord, status: string): RegistryProcessView {
  const { runId, role, name, pid, command, args, activatedAt } = c;
  return { runId, role, name, status, pid, command, args, activatedAt };
}

const viewOf = (c: ChildView): RegistryProcessView => toProcessView(c, c.status);

/** The processes of this run of a `Registry` opened in this process. */
export function registrySource(registry: RegistryLike): RegistrySource {
  return { processes: () => registry.listChildren(registry.runId).map(viewOf) };
}

/** The processes of the run of a registry server started by `registryChild` (by pid or name). */
export function registryServerSource(server: Pid | string, timeoutMs = 2000): RegistrySource {
  return {
    async processes() {
      // Asked every time: a restarted registry server opens a new run.
      const runId = await callRegistry<string>(server, { op: 'runId' }, timeoutMs);
      const children = await callRegistry<ChildView[]>(server, { op: 'listChildren', runId }, timeoutMs);
      return children.map(viewOf);
    },
  };
}

export function isRegistryLike(v: unknown): v is RegistryLike {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as RegistryLike).listChildren === 'function' &&
    typeof (v as RegistryLike).runId === 'string'
  );
}

// ---- pools ---------------------------------------------------------------------------------------

/**
 * A pool: anything with `stats()`. A gRPC `ToolPool` is one as it is (`pools: { nlp: pool }`): its
 * workers get a row each, its log records (`onLog`) the page's log tail. Other stats are shown as
 * labelled values (nested objects as dotted names).
 */
export interface PoolSource {
  /**
   * Typed `object`, not a Record: a stats interface such as the bridge's PoolStats has no index
   * signature, so it would not be assignable to one (TS2322 when a ToolPool is a pool source).
   */
  stats(): MaybePromise<object>;
  /** Log records of the pool's workers, as they happen; returns the unsubscribe function. */
  onLog?(listener: (record: PoolLogRecordInput) => void): () => void;
}

/** A task pool of @trellis/core, by registered name or pid (works from any thread: it is a call). */
export function taskPoolSource(pool: Pid | string, timeoutMs = 2000): PoolSource {
  return { stats: () => call<Record<string, unknown>>(pool, 'stats', timeoutMs) };
}

// ---- heartbeat health ----------------------------------------------------------------------------

/** `initializing`, `active`, `stale`, `failed`; a persisted record of a dead run may say `dead`. */
export type HealthState = 'initializing' | 'active' | 'stale' | 'failed' | 'dead' | (string & {});

/**
 * One monitored actor's health record. @trellis/health's records (from `healthRecords()` or
 * `readHealth()`) have this shape already, so `{ records: () => healthRecords() }` is a HealthSource.
 */
export interface HealthRecordView {
  /** The actor's Trellis pid: how the record is joined to the tree. */
  readonly pid?: string | null | undefined;
  /** Its child id (or name): joined by supervisor + id, or by id alone when that is unique. */
  readonly id?: string | null | undefined;
  /** The supervisor the actor is a child of. */
  readonly supervisor?: string | null | undefined;
  readonly state: HealthState;
  /** Wall-clock time of the last heartbeat, ms since the epoch. */
  readonly lastHeartbeatAt?: number | null | undefined;
  readonly restarts?: number | undefined;
  readonly lastExitReason?: string | null | undefined;
}

export interface HealthSource extends Watchable {
  records(): MaybePromise<Iterable<HealthRecordView>>;
}

/** What the observer needs of @trellis/health's `HealthMonitor` (found with `findHealthMonitor()`). */
export interface HealthMonitorLike {
  list(): Iterable<HealthRecordView>;
  /** Health events (state changes): each one pushes a fresh snapshot to the page at once. */
  on?(listener: (event: unknown) => void): () => void;
}

/**
 * The records of a health monitor of this thread, with its state changes pushed as they happen.
 * `find` is asked on every read, because a restarted monitor is a new object:
 * `healthMonitorSource(() => findHealthMonitor())`. (From another thread, or without change
 * notification: `{ records: () => healthRecords() }`.)
 */
export function healthMonitorSource(find: () => HealthMonitorLike | undefined): HealthSource {
  let onChange: (() => void) | undefined;
  let attached: HealthMonitorLike | undefined;
  let detach: (() => void) | undefined;
  const attach = (m: HealthMonitorLike | undefined): void => {
    if (m === attached || onChange === undefined) return;
    detach?.();
    attached = m;
    const notify = onChange;
    detach = m?.on?.(() => notify());
  };
  return {
    records() {
      const m = find();
      attach(m);
      return m ? [...m.list()] : [];
    },
    subscribe(cb) {
      onChange = cb;
      attach(find());
      return () => {
        detach?.();
        detach = undefined;
        attached = undefined;
        onChange = undefined;
      };
    },
  };
}

// ---- leases --------------------------------------------------------------------------------------

export interface LeaseView {
  readonly name: string;
  /** Identity of the current holder; undefined when nobody holds it. */
  readonly holder?: string | undefined;
  /** Fencing token: increases on every change of leader. */
  readonly epoch: number;
  /** Wall-clock expiry, ms since the epoch. */
  readonly expiresAt?: number | undefined;
  /** Nobody holds it validly (released, never held, lapsed). */
  readonly expired?: boolean | undefined;
}

export interface LeaseSource extends Watchable {
  leases(): MaybePromise<Iterable<LeaseView>>;
}

/** A lease record as @trellis/health's `LeaseStore.list()` gives it. */
export interface LeaseRecordLike {
  readonly name: string;
  readonly holder: { readonly id: string; readonly label?: string | undefined } | null;
  readonly epoch: number;
  /** Wall-clock estimate of the expiry (store clocks are monotonic, not wall time). */
  readonly wallExpiresAt?: number | undefined;
  readonly expired?: boolean | undefined;
}

/** Every lease of a lease store (`leaseStoreSource(LmdbLeaseStore.open({ dir }))`). */
export function leaseStoreSource(store: { list(): MaybePromise<Iterable<LeaseRecordLike>> }): LeaseSource {
  return {
    async leases() {
      return [...(await store.list())].map(
        (l): LeaseView => ({
          name: l.name,
          holder: l.holder
            ? l.holder.label
              ? `${l.holder.label} (${l.holder.id})`
              : l.holder.id
            : undefined,
          epoch: l.epoch,
          expiresAt: l.wallExpiresAt,
          expired: l.expired,
        }),
      );
    },
  };
}

// ---- cluster -------------------------------------------------------------------------------------

/** One node of a cluster, as the page's cluster view shows it (`clusterViewSource()` of @trellis/cluster gives these). */
export interface ClusterNodeView {
  readonly node: string;
  readonly incarnation: number;
  readonly host: string;
  readonly pid?: number | undefined;
  readonly address?: string | undefined;
  /** `up`, `unreachable` (this node's probes fail; it may be fine) or `down` (etcd says it left). */
  readonly state: 'up' | 'unreachable' | 'down';
  readonly downSince?: number | undefined;
  /** When the node last wrote its status record (ms since the epoch). */
  readonly updatedAt?: number | undefined;
  /** The Trellis runs of the OS processes it supervises. */
  readonly runs: readonly string[];
  /** Live Python workers of its pools. */
  readonly pythonWorkers: number;
  readonly pools: readonly {
    readonly name: string;
    readonly size: number;
    readonly ready: number;
    readonly busy?: number | undefined;
    readonly inFlight?: number | undefined;
    readonly queued?: number | undefined;
  }[];
  readonly names?: readonly string[] | undefined;
}

export interface ClusterSource extends Watchable {
  nodes(): MaybePromise<Iterable<ClusterNodeView>>;
}
