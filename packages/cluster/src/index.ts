// @trellis/cluster: Trellis across machines on etcd (docs/cluster.md): leases, membership, global names.

export {
  ClusterTlsError,
  ClusterUnavailableError,
  InvalidClusterOptionsError,
  NoConnectionError,
  NodeDownError,
  NodeNameTakenError,
  NodeUnreachableError,
} from './errors.js';
export {
  ETCD_DEFAULTS,
  EtcdConnection,
  type EtcdOptions,
  type EtcdTlsOptions,
  resolveEndpoints,
} from './etcd/etcd-connection.js';
export { EtcdLeaseStore, type EtcdLeaseStoreOptions } from './etcd/etcd-lease-store.js';
export { freePort, LocalEtcd, type LocalEtcdMember, type LocalEtcdOptions } from './etcd/local-etcd.js';
export {
  callGlobal,
  monitorNode,
  nodes,
  registerGlobal,
  unregisterGlobal,
  whereisGlobal,
} from './node/api.js';
export {
  type ClusterNodeChildOptions,
  type ClusterStartOptions,
  clusterNodeChild,
  start,
} from './node/cluster-child.js';
export {
  CLUSTER_DEFAULTS,
  ClusterNode,
  type ClusterOptions,
  type ConnectionState,
  currentCluster,
  type NodeMonitorMessage,
  type NodeWatcher,
} from './node/cluster-node.js';
export { ClusterViaRegistry } from './node/cluster-via.js';
export { type Member, Membership, type NodeEvent } from './node/membership.js';
export type { GlobalPid, RemoteDownMessage, RemoteWatcher } from './node/remote-monitors.js';
export { type ChildProcessInfo, type ClusterView, type NodeStatus, readClusterView } from './node/status.js';
export type { NodeTlsOptions } from './node/wire.js';
