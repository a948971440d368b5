// @trellis/cluster: Trellis across machines on etcd (docs/cluster.md): leases, membership, global names.

export { type AgentChildOptions, agentChild } from './agent/agent-actor.js';
export { main as agentMain } from './agent/agent-cli.js';
export { AgentConnection, type LaunchOk } from './agent/agent-client.js';
export {
  AGENT_ROLE,
  AGENT_SERVICE,
  type LaunchReq,
  type LaunchSpec,
  type WireExit,
  type WorkerOwner,
} from './agent/agent-wire.js';
export { type Agent, type AgentOptions, startAgent } from './agent/start-agent.js';
export {
  type CaFiles,
  type CertsDirOptions,
  DEFAULT_NODE_DNS_NAME,
  defaultCertsDir,
  initClusterCa,
  issueNodeCert,
  type NodeCertFiles,
  readNodeTls,
} from './certs/certs.js';
export { main as certsMain } from './certs/certs-cli.js';
export type { ClusterCliIo as AgentCliIo, ClusterCliIo as CertsCliIo, ClusterCliIo } from './cli-flags.js';
export {
  AgentNoWorkerError,
  AgentRefusedError,
  ClusterCertsError,
  ClusterUnavailableError,
  InvalidClusterOptionsError,
  NoConnectionError,
  NodeDownError,
  NodeNameTakenError,
  NodeUnreachableError,
  TlsRefusedError,
} from './errors.js';
export {
  ETCD_DEFAULTS,
  EtcdConnection,
  type EtcdOptions,
  type EtcdTlsOptions,
  resolveEndpoints,
} from './etcd/etcd-connection.js';
export { EtcdLeaseStore, type EtcdLeaseStoreOptions } from './etcd/etcd-lease-store.js';
export {
  freePort,
  LocalEtcd,
  type LocalEtcdMember,
  type LocalEtcdOptions,
  type LocalEtcdTls,
} from './etcd/local-etcd.js';
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
export { ClusterNode, currentCluster } from './node/cluster-node.js';
export {
  type ClusterNodeRow,
  type ClusterNodeState,
  type ClusterViewSource,
  type ClusterViewSourceOptions,
  clusterViewSource,
} from './node/cluster-source.js';
export { ClusterViaRegistry } from './node/cluster-via.js';
export type { MemberLeaseLoss } from './node/member-lease.js';
export { type Member, Membership, type NodeEvent } from './node/membership.js';
export { CLUSTER_DEFAULTS, type ClusterOptions, type ConnectionState } from './node/node-options.js';
export type { NodeMonitorMessage, NodeWatcher } from './node/node-watchers.js';
export { type PingNodeOptions, pingNode } from './node/ping-node.js';
export type { GlobalPid, RemoteDownMessage, RemoteWatcher } from './node/remote-monitors.js';
export {
  type ChildProcessInfo,
  type ClusterView,
  type NodeStatus,
  type PoolStatus,
  readClusterView,
} from './node/status.js';
export { type ClientTls, probeTlsRefusal } from './node/tls-refusal.js';
export type { NodeTlsOptions, PingRep } from './node/wire.js';
