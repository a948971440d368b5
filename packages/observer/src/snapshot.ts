/**
 * The observer's data model as the page, `GET /api/snapshot` and `trellis status --json` see it.
 * Every time is wall-clock ms since the epoch, so a reader computes ages against `at` (the moment the
 * snapshot was taken) and needs no clock of the observer's.
 */
import type { LabelledValue, ToolPoolView } from './pool-view.js';
import type {
  ClusterNodeView,
  HealthRecordView,
  LeaseView,
  RegistryProcessView,
  RegistryRunView,
} from './sources.js';

/** 2: pools as ToolPool views or labelled values, Python workers named in the tree, no command lines. */
export const SNAPSHOT_VERSION = 2;

/** `running`; `restarting` (the supervisor is retrying or backing off); `stopped` (no process); `unreachable` (its supervisor did not answer in time: the children shown are the last known). */
export type NodeStatus = 'running' | 'restarting' | 'stopped' | 'unreachable';

export interface NodeHealth {
  readonly state: string;
  readonly lastHeartbeatAt?: number | undefined;
  readonly lastExitReason?: string | undefined;
}

export interface TreeNodeView {
  /** Stable path of child ids from the root (`root/api/worker`); dynamic children use their pid. */
  readonly key: string;
  readonly id: string | null;
  readonly pid: string | null;
  readonly type: 'supervisor' | 'worker';
  readonly status: NodeStatus;
  /** permanent, transient or temporary (absent for the root). */
  readonly restart?: string | undefined;
  readonly restarts: number;
  /** When the current process started; null when unknown. */
  readonly startedAt: number | null;
  /** False when the start happened before the observer was watching: `startedAt` is then when it was first seen. */
  readonly startedAtExact: boolean;
  /** Restart strategy, for supervisors whose start the observer saw. */
  readonly strategy?: string | undefined;
  /** The supervisor this child belongs to (null for the root). */
  readonly supervisor: string | null;
  readonly health?: NodeHealth | undefined;
  /** A display name for a child without an id (a Python worker: `<pool> worker <slot>`). */
  readonly label?: string | undefined;
  /** The OS process a node stands for (a Python worker's pid). */
  readonly osPid?: number | undefined;
  /** This is the observer's own actor (the page offers no control for it). */
  readonly observer?: boolean | undefined;
  readonly error?: string | undefined;
  readonly children?: readonly TreeNodeView[] | undefined;
  /** Children beyond the display limit. */
  readonly hiddenChildren?: number | undefined;
}

export interface EventView {
  readonly seq: number;
  readonly at: number;
  readonly type: string;
  readonly supervisor: string;
  readonly supervisorName?: string | undefined;
  readonly id?: string | undefined;
  readonly pid?: string | undefined;
  readonly text: string;
}

export interface SourceResult<T> {
  readonly items: readonly T[];
  readonly error?: string | undefined;
}

export interface PoolView {
  readonly name: string;
  /** A gRPC ToolPool: summary, one row per Python worker, history for the charts. */
  readonly tool?: ToolPoolView | undefined;
  /** Any other pool: its stats as labelled values. */
  readonly values?: readonly LabelledValue[] | undefined;
  readonly error?: string | undefined;
}

export interface AnnouncedObserver {
  readonly url: string;
  readonly pid: number;
  readonly root: string | null;
  readonly startedAt: number;
}

export interface Snapshot {
  readonly version: number;
  readonly at: number;
  readonly title: string;
  /** The observer that took the snapshot, as its announce file gives it. */
  readonly observer: AnnouncedObserver;
  /** null when the observer watches no tree (standalone `pnpm observer`). */
  readonly tree: TreeNodeView | null;
  readonly registry:
    | (SourceResult<RegistryProcessView> & { readonly runs?: readonly RegistryRunView[] })
    | null;
  readonly pools: readonly PoolView[] | null;
  readonly leases: SourceResult<LeaseView> | null;
  /** Every node of the cluster (with the `cluster` source), sorted by name. */
  readonly cluster?: SourceResult<ClusterNodeView> | null | undefined;
  /** Health records not joined to a node of the tree (e.g. actors outside it). */
  readonly health: SourceResult<HealthRecordView> | null;
  /** Other observers announced in the Trellis home (standalone mode). */
  readonly announced?: readonly AnnouncedObserver[] | undefined;
  /** Sequence number of the newest event logged. */
  readonly lastEventSeq: number;
  /** The newest events (only in `GET /api/snapshot`; the page gets them as `events` pushes). */
  readonly events?: readonly EventView[] | undefined;
}
