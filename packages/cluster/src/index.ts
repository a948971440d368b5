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
