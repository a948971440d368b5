export { OBSERVER_DEFAULTS } from './defaults.js';
export {
  InvalidObserverOptionsError,
  ObserverHostRefusedError,
  ObserverListenError,
  ObserverRequestError,
  ObserverUnreachableError,
} from './errors.js';
export type { LogRecordView, PoolLogRecordInput } from './log-tail.js';
export { main as logsMain } from './logs-cli.js';
export type { MetricsOptions } from './metrics-endpoint.js';
export { type ObserverHandle, type ObserverOptions, startObserver } from './observer.js';
export { type ObserverChildOptions, observerChild, withObserver } from './observer-child.js';
export { persistedRegistrySource } from './persisted.js';
export type { LabelledValue, PoolSample, ToolPoolView, WorkerRow } from './pool-view.js';
export { renderStatus } from './render-text.js';
export type {
  AnnouncedObserver,
  EventView,
  NodeHealth,
  NodeStatus,
  PoolView,
  Snapshot,
  SourceResult,
  TreeNodeView,
} from './snapshot.js';
export {
  type ClusterNodeView,
  type ClusterSource,
  type HealthMonitorLike,
  type HealthRecordView,
  type HealthSource,
  type HealthState,
  healthMonitorSource,
  type LeaseRecordLike,
  type LeaseSource,
  type LeaseView,
  leaseStoreSource,
  type MaybePromise,
  type PoolSource,
  type RegistryLike,
  type RegistryProcessView,
  type RegistryRunView,
  type RegistrySource,
  registryServerSource,
  registrySource,
  taskPoolSource,
  type Watchable,
} from './sources.js';
export { main as statusMain } from './status-cli.js';
