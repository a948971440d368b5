// @trellis/health: heartbeat health monitoring and leader leases (docs/health.md, docs/leases.md).

// ---- heartbeat health ----
export { HEALTH_DEFAULTS, LEASE_DEFAULTS } from './defaults.js';
export {
  type FenceRefusal,
  HealthKeyTakenError,
  HealthMonitorNotFoundError,
  HealthStoreUnavailableError,
  InvalidHealthOptionsError,
  InvalidLeaseOptionsError,
  LeaseFencedError,
  LeaseKeeperNotFoundError,
  LeaseStoreClosedError,
} from './errors.js';
export { childStats, healthRecords, healthRequest, monitorActor } from './health-client.js';
export type { ChildStats, HealthEvent, HealthEventMessage, HealthListener } from './health-events.js';
export { findHealthMonitor, HealthMonitor } from './health-monitor.js';
export {
  HealthReader,
  type HealthReaderOptions,
  type HealthRecordView,
  type HealthRunView,
  type HealthSnapshot,
  type RunLiveness,
  readHealth,
} from './health-reader.js';
export type { HealthRecord, HealthRunRecord, RecordState, RunState } from './health-records.js';
export {
  type BeatMessage,
  type HealthMonitorChildOptions,
  type HealthMonitorOptions,
  type HealthReply,
  type HealthRequest,
  healthMonitorChild,
  type StartHealthMonitorOptions,
  startHealthMonitor,
} from './health-server.js';
export {
  type ActorHealthOptions,
  beatTransition,
  dueTransition,
  exitTransition,
  type HealthState,
  isTerminal,
  type Slot,
  type StalePolicy,
  type Timings,
  type Transition,
  type TransitionCause,
} from './health-state.js';
export { HealthStore } from './health-store.js';
export { heartbeat } from './heartbeat.js';
export { type HostInfo, hostInfo, hostMonotonicMs } from './host.js';
// ---- leader leases ----
export {
  checkFence,
  defaultHolder,
  type FenceTarget,
  fencedWrite,
  Lease,
  type LeaseOptions,
} from './lease.js';
export {
  isLeading,
  type LeaseKeeperOptions,
  type LeaseKeeperRequest,
  type LeaseRole,
  type LeaseStatus,
  type LeaseStatusMessage,
  leaseKeeperChild,
  leaseStatus,
} from './lease-keeper.js';
export type {
  FencedTxn,
  GrantResult,
  KeepAliveRefusal,
  KeepAliveResult,
  LeaseHolder,
  LeaseRecord,
  LeaseStore,
  LeaseView,
} from './lease-store.js';
// For LeaseStore implementations (the etcd store): the argument checks every store makes.
export {
  checkEpoch,
  checkGrant,
  checkHolder,
  checkLeaseName,
  checkTenure,
  checkTtl,
} from './lease-store.js';
export { LmdbLeaseStore, type LmdbLeaseStoreOptions } from './lmdb-lease-store.js';
export { type MonitoredChildOptions, monitoredChild } from './monitored-child.js';
