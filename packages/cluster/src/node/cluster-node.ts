/**
 * A Trellis node in a cluster on etcd (docs/cluster.md). Keys, all under `/<cluster>/`:
 *
 *   members/<node>  { node, host, pid, address, startedAt }   on the node's member lease
 *   status/<node>   the node's status record                   on the member lease
 *   names/<name>    { node, incarnation, pid }                 on the member lease of the holder's node
 *   leases/<lease>  leader leases (EtcdLeaseStore)             on each lease's own etcd lease
 *
 * This class is the node's face and wiring; each concern lives in its own file:
 *   member-lease.ts      joining, keep-alive with the node's own deadline, rejoining as a new incarnation
 *   cluster-keys.ts      reading and watching members and names
 *   global-names.ts      registerGlobal & co., written in txns that check our member key
 *   remote-calls.ts      calls, sends and exit signals to other nodes (over peers.ts)
 *   status-publisher.ts  the status record under status/<node>
 *   node-watchers.ts     monitorNode watchers
 *   node-service.ts      what other nodes ask of this one (on the gRPC server below)
 * Local supervision never depends on etcd: losing etcd stops nothing but cluster features.
 */
import { hostname } from 'node:os';
import { Server, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { currentNode, getLogger, type Node, type Pid, type Ref } from '@trellis/core';
import { registerPlacementProvider, unregisterPlacementProvider } from '@trellis/grpc-bridge';
import { ClusterPlacement } from '../agent/cluster-placement.js';
import { InvalidClusterOptionsError } from '../errors.js';
import { EtcdConnection } from '../etcd/etcd-connection.js';
import { EtcdLeaseStore } from '../etcd/etcd-lease-store.js';
import { ClusterKeys } from './cluster-keys.js';
import { GlobalNames } from './global-names.js';
import { MemberLease, type MemberLeaseLoss } from './member-lease.js';
import { type Member, Membership, type NodeEvent } from './membership.js';
import {
  CLUSTER_DEFAULTS,
  type ClusterOptions,
  type ConnectionState,
  checkClusterOptions,
} from './node-options.js';
import { nodeServiceHandlers } from './node-service.js';
import { type NodeWatcher, NodeWatchers } from './node-watchers.js';
import { Peers } from './peers.js';
import { RemoteCalls } from './remote-calls.js';
import { type GlobalPid, RemoteMonitors, type RemoteWatcher } from './remote-monitors.js';
import { collectStatus, type NodeStatus } from './status.js';
import { StatusPublisher } from './status-publisher.js';
import { watchTlsRefusals } from './tls-refusal.js';
import { NODE_SERVICE, type NodeTlsOptions, type PingRep, serverCredentials } from './wire.js';

let current: ClusterNode | undefined;

/** The cluster node started last in this process (the one `registerGlobal` & co. use by default). */
export function currentCluster(): ClusterNode {
  if (current === undefined)
    throw new InvalidClusterOptionsError(
      'no cluster node runs in this process; start the tree with start(tree, { cluster }) from @trellis/cluster, or add clusterNodeChild() to it',
    );
  return current;
}

export class ClusterNode {
  readonly cluster: string;
  readonly node: string;
  readonly memberTtlMs: number;
  readonly etcd: EtcdConnection;
  readonly local: Node;
  readonly membership: Membership;
  #address = '';
  readonly #o: ClusterOptions;
  readonly #server: Server;
  readonly #peers: Peers;
  readonly #lease: MemberLease;
  readonly #names: GlobalNames;
  readonly #keys: ClusterKeys;
  readonly #remote: RemoteCalls;
  readonly #status: StatusPublisher;
  readonly #nodeWatchers: NodeWatchers;
  readonly #monitors: RemoteMonitors;
  #probeTimer: NodeJS.Timeout | undefined;
  #leaseStore: EtcdLeaseStore | undefined;
  #placement: ClusterPlacement | undefined;
  readonly #log = getLogger();

  private constructor(etcd: EtcdConnection, o: ClusterOptions, local: Node) {
    this.#o = o;
    this.etcd = etcd;
    this.local = local;
    this.cluster = o.name ?? CLUSTER_DEFAULTS.name;
    this.node = o.node ?? `${hostname()}-${process.pid}`;
    this.memberTtlMs = o.memberTtlMs ?? CLUSTER_DEFAULTS.memberTtlMs;
    this.membership = new Membership((e) => this.#onNodeEvent(e));
    this.#peers = new Peers(this.membership, o.tls);
    this.#server = new Server();
    this.#nodeWatchers = new NodeWatchers(local);
    const self = this;
    this.#remote = new RemoteCalls(this.#peers, {
      node: this.node,
      local,
      get incarnation() {
        return self.incarnation;
      },
      holder: (name) => this.#names.holder(name),
    });
    this.#lease = new MemberLease({
      cluster: this.cluster,
      node: this.node,
      prefix: this.prefix,
      memberTtlMs: this.memberTtlMs,
      etcd,
      membership: this.membership,
      roles: o.roles,
      get address() {
        return self.#address;
      },
      joined: () => this.#status.publish(),
      rejoined: async () => {
        await this.#keys.resync();
        await this.#names.reRegister();
      },
    });
    this.#names = new GlobalNames({
      node: this.node,
      prefix: this.prefix,
      etcd,
      local,
      lease: this.#lease,
      changed: () => this.#status.soon(),
    });
    this.#keys = new ClusterKeys({
      node: this.node,
      prefix: this.prefix,
      etcd,
      membership: this.membership,
      names: this.#names,
      lease: this.#lease,
    });
    this.#status = new StatusPublisher({
      node: this.node,
      prefix: this.prefix,
      etcd,
      lease: this.#lease,
      record: () => this.status(),
    });
    this.#monitors = new RemoteMonitors(local, {
      openMonitor: (t, onExit, onEnd) => this.#peers.openMonitor(t, onExit, onEnd),
      isMember: (n, inc) => this.membership.get(n)?.incarnation === inc,
      sendExit: (t, reason) => this.#remote.exit(t, reason),
    });
  }

  /**
   * Joins the cluster: connects to etcd (ERR_CLUSTER_UNAVAILABLE naming the endpoints), starts the
   * gRPC server, writes the member key (ERR_CLUSTER_NODE_NAME_TAKEN when a live member has the name),
   * reads the membership and follows it.
   */
  static async start(o: ClusterOptions = {}, local: Node = currentNode()): Promise<ClusterNode> {
    const name = checkClusterOptions(o);
    const etcd = await EtcdConnection.connect({
      endpoints: o.etcd,
      tls: o.etcdTls,
      dialTimeoutMs: o.dialTimeoutMs,
    });
    const n = new ClusterNode(etcd, { ...o, name }, local);
    try {
      await n.#listen();
      await n.#lease.join(true);
      await n.#keys.follow();
      n.#schedule();
    } catch (e) {
      await n.stop().catch(() => {});
      throw e;
    }
    current = n;
    // Pools with placement on the cluster's agents place their workers through this node.
    n.#placement = new ClusterPlacement(n);
    registerPlacementProvider('cluster', n.#placement);
    return n;
  }

  get prefix(): string {
    return `/${this.cluster}/`;
  }
  get incarnation(): number {
    return this.#lease.incarnation;
  }
  get address(): string {
    return this.#address;
  }
  get state(): ConnectionState {
    return this.#lease.state;
  }
  /** performance.now() past which this node can no longer vouch for its member lease (agent-side kill rule). */
  get memberDeadline(): number {
    return this.#lease.deadline;
  }
  /** The host the gRPC server is bound to (an agent's workers listen there too). */
  get listenHost(): string {
    const listen = this.#o.listen ?? CLUSTER_DEFAULTS.listen;
    return listen.slice(0, listen.lastIndexOf(':'));
  }
  /** This node's mTLS options (undefined: insecure), for services that dial or serve as the node does. */
  get tls(): NodeTlsOptions | undefined {
    return this.#o.tls;
  }
  /** This node's identity as others see it. */
  get self(): GlobalPid & { readonly address: string } {
    return { ...this.globalPid(this.local.selfPid), address: this.#address };
  }

  /** A GlobalPid for a process of this node. */
  globalPid(pid: Pid): GlobalPid {
    return { node: this.node, incarnation: this.incarnation, pid };
  }

  // ---- seams for services built on the node (the agent) ------------------------------------------

  /**
   * Serves another gRPC service on the node's server, beside the node-to-node service: same address,
   * same mTLS credentials (a client must present a certificate of the cluster's CA).
   */
  addService(definition: ServiceDefinition, handlers: UntypedServiceImplementation): void {
    this.#server.addService(definition, handlers);
  }

  removeService(definition: ServiceDefinition): void {
    this.#server.removeService(definition);
  }

  /**
   * Calls `listener` when this node loses its membership: its member-lease deadline passed without
   * an answered keep-alive ('deadline': cut off from etcd, other nodes will see it down within the
   * TTL), or etcd dropped the lease ('expired': it was declared down and joins again as a new
   * incarnation). Returns the unsubscribe function.
   */
  onMemberLeaseLost(listener: (why: MemberLeaseLoss) => void): () => void {
    return this.#lease.onLost(listener);
  }

  // ---- membership --------------------------------------------------------------------------------

  /** The members as this node last saw them (itself included), sorted by name. */
  nodes(): Member[] {
    return this.membership.list();
  }

  /** Whether this node's probes currently fail to reach `node` (a member that may still be up). */
  isUnreachable(node: string): boolean {
    return this.membership.isUnreachable(node);
  }

  /** Watches one node (or every node with `node` undefined): nodeup, nodedown, unreachable, reachable. */
  monitorNode(node: string | undefined, watcher: NodeWatcher): Ref {
    return this.#nodeWatchers.add(node, watcher);
  }

  demonitorNode(ref: Ref): void {
    this.#nodeWatchers.remove(ref);
  }

  #onNodeEvent(e: NodeEvent): void {
    if (e.type === 'nodedown') {
      this.#monitors.nodeDown(e.node, e.incarnation);
      this.#peers.drop(e.node);
      this.#names.nodeDown(e.node, e.incarnation);
    }
    this.#log.info(
      { cluster: this.cluster, self: this.node, event: e.type, node: e.node, incarnation: e.incarnation },
      'cluster membership',
    );
    this.#nodeWatchers.deliver(e);
  }

  /** A Ping to every other member; the answer's incarnation tells a rejoined node from its old self. */
  async #probe(): Promise<void> {
    if (this.state !== 'up') return;
    await Promise.all(
      this.membership
        .list()
        .filter((m) => m.node !== this.node)
        .map((m) =>
          this.ping(m.node).then(
            (r) => this.membership.probed(m.node, r.inc === m.incarnation),
            () => this.membership.probed(m.node, false),
          ),
        ),
    );
  }

  // ---- remote monitors and links ---------------------------------------------------------------

  /** Monitors a process of any node; its DOWN carries `noconnection` when that node goes down. */
  monitor(target: GlobalPid, watcher: RemoteWatcher): Ref {
    if (this.#remote.isSelf(target)) {
      return this.local.monitor(
        typeof watcher === 'function' ? (reason) => watcher(reason, target) : (watcher as Pid),
        target.pid,
      );
    }
    return this.#monitors.monitor(target, watcher);
  }

  demonitor(ref: Ref): void {
    this.#monitors.demonitor(ref);
    this.local.demonitor(ref);
  }

  /** Links a local process to a process of another node (exit signals both ways; noconnection on nodedown). */
  link(local: Pid, target: GlobalPid): Ref {
    return this.#monitors.link(local, target);
  }

  // ---- global names (global-names.ts) ------------------------------------------------------------

  /**
   * Registers `name` for the local process `pid` across the cluster: one txn that checks this node's
   * member key is still our incarnation and the name is free. ERR_NAME_TAKEN names the holder.
   * The name goes when the process exits, when it is unregistered, or when this node goes down.
   */
  registerGlobal(name: string, pid: Pid): Promise<void> {
    return this.#names.register(name, pid);
  }

  unregisterGlobal(name: string): Promise<void> {
    return this.#names.unregister(name);
  }

  /** Where `name` is held (from the watched view: no etcd round trip), or undefined. */
  whereisGlobal(name: string): GlobalPid | undefined {
    return this.#names.whereis(name);
  }

  /** Every global name of the cluster (from the watched view). */
  globalNames(): Map<string, GlobalPid> {
    return this.#names.all();
  }

  // ---- calls and sends to any node (remote-calls.ts) ---------------------------------------------

  /** `call` to the holder of a global name, on whichever node it lives. */
  callGlobal<R = unknown>(name: string, request: unknown, timeoutMs = 5000): Promise<R> {
    return this.#remote.callGlobal<R>(name, request, timeoutMs);
  }

  /** `call` to a process of any node. */
  call<R = unknown>(target: GlobalPid, request: unknown, timeoutMs = 5000): Promise<R> {
    return this.#remote.call<R>(target, request, timeoutMs);
  }

  sendGlobal(name: string, message: unknown): Promise<void> {
    return this.#remote.sendGlobal(name, message);
  }

  send(target: GlobalPid, message: unknown): Promise<void> {
    return this.#remote.send(target, message);
  }

  /** Pings a member; the answer's incarnation tells a rejoined node from its old self. */
  ping(node: string, timeoutMs?: number): Promise<PingRep> {
    return this.#remote.ping(node, timeoutMs);
  }

  // ---- the gRPC server: what other nodes ask of this one (node-service.ts) -----------------------

  async #listen(): Promise<void> {
    const self = this;
    this.#server.addService(
      NODE_SERVICE,
      nodeServiceHandlers({
        node: this.node,
        get incarnation() {
          return self.incarnation;
        },
        local: this.local,
        localName: (name) => this.#names.localPid(name),
      }),
    );
    const listen = this.#o.listen ?? CLUSTER_DEFAULTS.listen;
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(listen, serverCredentials(this.#o.tls), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    if (this.#o.tls !== undefined) watchTlsRefusals(this.#server, this.node);
    const host = listen.slice(0, listen.lastIndexOf(':'));
    this.#address = this.#o.advertise ?? `${host}:${port}`;
  }

  /** The member lease's keep-alive loop, the reachability probes and the status refresh. */
  #schedule(): void {
    this.#lease.schedule();
    const probe = this.#o.probeIntervalMs ?? CLUSTER_DEFAULTS.probeIntervalMs;
    if (probe > 0) this.#probeTimer = setInterval(() => void this.#probe(), probe);
    this.#status.start(this.#o.statusIntervalMs ?? CLUSTER_DEFAULTS.statusIntervalMs);
  }

  // ---- status ------------------------------------------------------------------------------------

  /** This node's status record, as published under `status/<node>`. */
  status(): NodeStatus {
    return collectStatus(this, this.#names.localNames(), this.#o.status);
  }

  /** A lease store on this cluster's etcd (leases under `/<cluster>/leases/`), sharing the connection. */
  async leaseStore(): Promise<EtcdLeaseStore> {
    if (this.#leaseStore === undefined)
      this.#leaseStore = await EtcdLeaseStore.open({ etcd: this.etcd, prefix: this.prefix });
    return this.#leaseStore;
  }

  /** Leaves: revokes the member lease (the member key, names and status go at once), stops the server. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.#lease.stopping();
    if (current === this) current = undefined;
    if (this.#placement !== undefined) {
      unregisterPlacementProvider('cluster', this.#placement);
      this.#placement.close();
    }
    this.#status.stop();
    if (this.#probeTimer !== undefined) clearInterval(this.#probeTimer);
    this.#monitors.close();
    this.#names.close();
    await this.#lease.revoke();
    await this.#keys.close();
    await this.#leaseStore?.close().catch(() => {});
    this.#peers.close();
    await new Promise<void>((r) => {
      this.#server.tryShutdown(() => r());
      setTimeout(() => {
        this.#server.forceShutdown();
        r();
      }, 1000).unref();
    });
    this.etcd.close();
  }
}
