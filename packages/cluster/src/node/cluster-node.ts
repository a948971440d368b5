/**
 * A Trellis node in a cluster on etcd (docs/cluster.md). Keys, all under `/<cluster>/`:
 *
 *   members/<node>  { node, host, pid, address, startedAt }   on the node's member lease
 *   status/<node>   the node's status record                   on the member lease
 *   names/<name>    { node, incarnation, pid }                 on the member lease of the holder's node
 *   leases/<lease>  leader leases (EtcdLeaseStore)             on each lease's own etcd lease
 *
 * The member key's create_revision is the node's incarnation. The member lease is kept alive every
 * TTL/3, with the node's own deadline (send time + TTL - margin) as for leader leases: past it the
 * node counts itself disconnected, and when etcd says the lease is gone it joins again as a NEW
 * incarnation and registers again the global names its live processes hold. Local supervision never
 * depends on etcd: losing etcd stops nothing but cluster features.
 *
 * A name is written in one txn that checks the owner's member key is still this incarnation, so a
 * node that was declared down cannot register (or keep) a name under its old incarnation.
 */
import { hostname } from 'node:os';
import { Server } from '@grpc/grpc-js';
import {
  callTimeoutError,
  call as coreCall,
  currentNode,
  deserializeError,
  encodeReason,
  getLogger,
  isPid,
  NameTakenError,
  type Node,
  NoProcError,
  noprocError,
  type Pid,
  type Ref,
} from '@trellis/core';
import type { IKeyValue, Watcher } from 'etcd3';
import {
  InvalidClusterOptionsError,
  NodeDownError,
  NodeNameTakenError,
  NodeUnreachableError,
} from '../errors.js';
import {
  EtcdConnection,
  type EtcdTlsOptions,
  enc,
  num,
  Result,
  Target as T,
} from '../etcd/etcd-connection.js';
import { EtcdLeaseStore } from '../etcd/etcd-lease-store.js';
import { type Member, Membership, type NodeEvent } from './membership.js';
import { nodeServiceHandlers } from './node-service.js';
import { Peers } from './peers.js';
import { type GlobalPid, RemoteMonitors, type RemoteWatcher } from './remote-monitors.js';
import { collectStatus, type NodeStatus } from './status.js';
import { watchTlsRefusals } from './tls-refusal.js';
import {
  type Ack,
  type CallRep,
  type CallReq,
  type ExitReq,
  NODE_SERVICE,
  type NodeTlsOptions,
  type PingRep,
  type SendReq,
  serverCredentials,
  type Target,
} from './wire.js';

export interface ClusterOptions {
  /** etcd client URLs (default TRELLIS_ETCD, comma-separated). */
  readonly etcd?: readonly string[];
  readonly etcdTls?: EtcdTlsOptions;
  /** The cluster's name: the key prefix `/<name>/` (default 'trellis'). */
  readonly name?: string;
  /** This node's name, unique in the cluster (default `<hostname>-<pid>`). */
  readonly node?: string;
  /** TTL of the member lease (default 3000 ms; etcd counts whole seconds, so it is rounded up there). */
  readonly memberTtlMs?: number;
  /** Where the node-to-node gRPC server listens (default '127.0.0.1:0'). */
  readonly listen?: string;
  /** The address other nodes dial (default: the listen address with the port bound). */
  readonly advertise?: string;
  /** mTLS between nodes: every node presents a certificate signed by `ca` (`trellis certs`). */
  readonly tls?: NodeTlsOptions;
  /** Plain TCP between nodes, without TLS: only when set to true (a warning is logged). Either this or `tls`. */
  readonly insecure?: boolean;
  /** Interval of the reachability probes (default 1000 ms; 0 turns them off). */
  readonly probeIntervalMs?: number;
  /** Interval of the status record updates (default 5000 ms). */
  readonly statusIntervalMs?: number;
  /** Extra fields of the status record (pool sizes, runs...), called at every update. */
  readonly status?: () => Record<string, unknown>;
  /** How long the start waits for etcd (default 3000 ms) before ERR_CLUSTER_UNAVAILABLE. */
  readonly dialTimeoutMs?: number;
}

export const CLUSTER_DEFAULTS = Object.freeze({
  name: 'trellis',
  memberTtlMs: 3000,
  listen: '127.0.0.1:0',
  probeIntervalMs: 1000,
  statusIntervalMs: 5000,
  probeTimeoutMs: 500,
});

export type ConnectionState = 'up' | 'disconnected' | 'stopped';

/** What `monitorNode` watchers receive (as messages to a pid, or as the callback's argument). */
export type NodeMonitorMessage = NodeEvent;
export type NodeWatcher = Pid | ((e: NodeEvent) => void);

interface NameRecord {
  readonly node: string;
  readonly incarnation: number;
  readonly pid: Pid;
}

const NAME_RE = /^[A-Za-z0-9_.:@-]{1,200}$/;

function checkName(v: unknown, field: string): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) {
    throw new InvalidClusterOptionsError(
      `${field} is ${JSON.stringify(v)}; use 1 to 200 characters from A-Z a-z 0-9 _ . : @ -`,
      { field },
    );
  }
  return v;
}

/** A JSON record of ours, or undefined when the value is something else. */
function parseRecord<R>(kv: IKeyValue, ok: (x: Record<string, unknown>) => boolean): R | undefined {
  try {
    const v = JSON.parse(kv.value.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && ok(v as Record<string, unknown>) ? (v as R) : undefined;
  } catch {
    return undefined;
  }
}

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
  #incarnation = 0;
  #leaseId = '';
  #deadline = 0;
  #state: ConnectionState = 'up';
  #address = '';
  readonly #o: ClusterOptions;
  readonly #server: Server;
  readonly #peers: Peers;
  readonly #names = new Map<string, NameRecord>();
  /** Global names held by processes of this node: re-registered after a rejoin. */
  readonly #localNames = new Map<string, { pid: Pid; ref: Ref }>();
  readonly #nodeWatchers = new Map<Ref, { node: string | undefined; watcher: NodeWatcher }>();
  readonly #monitors: RemoteMonitors;
  #watcher: Watcher | undefined;
  #timers: NodeJS.Timeout[] = [];
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #rejoining: Promise<void> | undefined;
  #leaseStore: EtcdLeaseStore | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  readonly #startedAt = Date.now();
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
    this.#monitors = new RemoteMonitors(local, {
      openMonitor: (t, onExit, onEnd) => this.#peers.openMonitor(t, onExit, onEnd),
      isMember: (n, inc) => this.membership.get(n)?.incarnation === inc,
      sendExit: (t, reason) => {
        void this.#peers
          .unary<Ack>(
            t.node,
            'Exit',
            { inc: t.incarnation, pid: t.pid, reason: encodeReason(reason) } satisfies ExitReq,
            2000,
          )
          .catch(() => {});
      },
    });
  }

  /**
   * Joins the cluster: connects to etcd (ERR_CLUSTER_UNAVAILABLE naming the endpoints), starts the
   * gRPC server, writes the member key (ERR_CLUSTER_NODE_NAME_TAKEN when a live member has the name),
   * reads the membership and follows it.
   */
  static async start(o: ClusterOptions = {}, local: Node = currentNode()): Promise<ClusterNode> {
    const name = checkName(o.name ?? CLUSTER_DEFAULTS.name, 'cluster name');
    if (o.node !== undefined) checkName(o.node, 'node name');
    const ttl = o.memberTtlMs ?? CLUSTER_DEFAULTS.memberTtlMs;
    if (!(ttl >= 1000 && ttl <= 3_600_000))
      throw new InvalidClusterOptionsError(`memberTtlMs is ${ttl}; use 1000 to 3600000 ms`, {
        field: 'memberTtlMs',
      });
    if (o.tls === undefined && o.insecure !== true)
      throw new InvalidClusterOptionsError(
        'no tls option: nodes talk mTLS by default; make a CA and a certificate per node (`trellis certs init`, `trellis certs issue <node>`) and pass tls: readNodeTls(<node>), or pass insecure: true for plain TCP on a network you trust',
        { field: 'tls' },
      );
    if (o.tls !== undefined && o.insecure === true)
      throw new InvalidClusterOptionsError('both tls and insecure: true are set; pass one of them', {
        field: 'insecure',
      });
    if (o.insecure === true)
      getLogger().warn(
        { event: 'cluster_insecure', cluster: name, node: o.node },
        'insecure: true: calls between the nodes of this cluster go over plain TCP, unauthenticated and unencrypted; use tls (trellis certs) outside a trusted network',
      );
    const etcd = await EtcdConnection.connect({
      endpoints: o.etcd,
      tls: o.etcdTls,
      dialTimeoutMs: o.dialTimeoutMs,
    });
    const n = new ClusterNode(etcd, { ...o, name }, local);
    try {
      await n.#listen();
      await n.#join(true);
      await n.#follow();
      n.#schedule();
    } catch (e) {
      await n.stop().catch(() => {});
      throw e;
    }
    current = n;
    return n;
  }

  get prefix(): string {
    return `/${this.cluster}/`;
  }
  get incarnation(): number {
    return this.#incarnation;
  }
  get address(): string {
    return this.#address;
  }
  get state(): ConnectionState {
    return this.#state;
  }
  /** This node's identity as others see it. */
  get self(): GlobalPid & { readonly address: string } {
    return {
      node: this.node,
      incarnation: this.#incarnation,
      pid: this.local.selfPid,
      address: this.#address,
    };
  }

  /** A GlobalPid for a process of this node. */
  globalPid(pid: Pid): GlobalPid {
    return { node: this.node, incarnation: this.#incarnation, pid };
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
    const ref = this.local.newRef();
    this.#nodeWatchers.set(ref, { node, watcher });
    return ref;
  }

  demonitorNode(ref: Ref): void {
    this.#nodeWatchers.delete(ref);
  }

  #onNodeEvent(e: NodeEvent): void {
    if (e.type === 'nodedown') {
      this.#monitors.nodeDown(e.node, e.incarnation);
      this.#peers.drop(e.node);
      for (const [name, r] of this.#names)
        if (r.node === e.node && r.incarnation === e.incarnation) this.#names.delete(name);
    }
    this.#log.info(
      { cluster: this.cluster, self: this.node, event: e.type, node: e.node, incarnation: e.incarnation },
      'cluster membership',
    );
    for (const w of this.#nodeWatchers.values()) {
      if (w.node !== undefined && w.node !== e.node) continue;
      if (typeof w.watcher === 'function') {
        try {
          w.watcher(e);
        } catch {
          // a watcher's fault is its own
        }
      } else this.local.send(w.watcher, e);
    }
  }

  // ---- remote monitors and links ---------------------------------------------------------------

  /** Monitors a process of any node; its DOWN carries `noconnection` when that node goes down. */
  monitor(target: GlobalPid, watcher: RemoteWatcher): Ref {
    if (target.node === this.node && target.incarnation === this.#incarnation) {
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

  // ---- global names ------------------------------------------------------------------------------

  /**
   * Registers `name` for the local process `pid` across the cluster: one txn that checks this node's
   * member key is still our incarnation and the name is free. ERR_NAME_TAKEN names the holder.
   * The name goes when the process exits, when it is unregistered, or when this node goes down.
   */
  async registerGlobal(name: string, pid: Pid): Promise<void> {
    checkName(name, 'global name');
    if (!isPid(pid) || (this.local.isLocal(pid) && !this.local.procs.has(pid)))
      throw new NoProcError(`registerGlobal("${name}", ${String(pid)})`);
    const held = this.#localNames.get(name);
    if (held !== undefined && held.pid === pid) return;
    await this.#writeName(name, pid);
    const ref = this.local.monitor(() => {
      if (this.#localNames.get(name)?.ref !== ref) return;
      this.#localNames.delete(name);
      void this.#deleteName(name, pid).catch(() => {});
    }, pid);
    this.#localNames.set(name, { pid, ref });
    this.#statusSoon();
  }

  /** The status record lists our names: publish it soon after they change (debounced). */
  #statusSoon(): void {
    if (this.#statusTimer !== undefined || this.#state === 'stopped') return;
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      void this.#publishStatus().catch(() => {});
    }, 50);
  }

  async #writeName(name: string, pid: Pid): Promise<void> {
    const key = enc(`${this.prefix}names/${name}`);
    const rec: NameRecord = { node: this.node, incarnation: this.#incarnation, pid };
    const t = await this.etcd.txn(
      [
        {
          key: enc(this.#memberKey()),
          target: T.create,
          result: Result.equal,
          create_revision: this.#incarnation,
        },
        { key, target: T.create, result: Result.equal, create_revision: 0 },
      ],
      [{ request_put: { key, value: enc(JSON.stringify(rec)), lease: this.#leaseId } }],
      [{ request_range: { key } }, { request_range: { key: enc(this.#memberKey()) } }],
    );
    if (t.succeeded) {
      this.#names.set(name, rec);
      return;
    }
    const kv = t.responses[0]?.response_range?.kvs[0];
    if (kv !== undefined) {
      const h = JSON.parse(kv.value.toString('utf8')) as NameRecord;
      if (h.node === this.node && h.incarnation === this.#incarnation && h.pid === pid) return;
      throw new NameTakenError(name, `${h.pid}@${h.node}` as Pid);
    }
    throw new NodeDownError(this.node, `registerGlobal("${name}")`);
  }

  async #deleteName(name: string, pid: Pid): Promise<void> {
    const key = enc(`${this.prefix}names/${name}`);
    const rec: NameRecord = { node: this.node, incarnation: this.#incarnation, pid };
    await this.etcd.txn(
      [{ key, target: T.value, result: Result.equal, value: enc(JSON.stringify(rec)) }],
      [{ request_delete_range: { key } }],
      [],
    );
  }

  async unregisterGlobal(name: string): Promise<void> {
    const held = this.#localNames.get(name);
    if (held === undefined) return;
    this.#localNames.delete(name);
    this.local.demonitor(held.ref);
    await this.#deleteName(name, held.pid);
    if (this.#names.get(name)?.pid === held.pid) this.#names.delete(name);
    this.#statusSoon();
  }

  /** Where `name` is held (from the watched view: no etcd round trip), or undefined. */
  whereisGlobal(name: string): GlobalPid | undefined {
    const r = this.#names.get(name);
    return r === undefined ? undefined : { node: r.node, incarnation: r.incarnation, pid: r.pid };
  }

  /** Every global name of the cluster (from the watched view). */
  globalNames(): Map<string, GlobalPid> {
    return new Map(
      [...this.#names].map(([k, r]) => [k, { node: r.node, incarnation: r.incarnation, pid: r.pid }]),
    );
  }

  // ---- calls and sends to any node -------------------------------------------------------------

  /** `call` to the holder of a global name, on whichever node it lives. */
  async callGlobal<R = unknown>(name: string, request: unknown, timeoutMs = 5000): Promise<R> {
    const h = this.#names.get(name);
    if (h === undefined) throw noprocError(name, true);
    if (h.node === this.node) return coreCall<R>(h.pid, request, timeoutMs);
    return this.#remoteCall<R>(h.node, h.incarnation, { name }, request, timeoutMs, name);
  }

  /** `call` to a process of any node. */
  async call<R = unknown>(target: GlobalPid, request: unknown, timeoutMs = 5000): Promise<R> {
    if (target.node === this.node && target.incarnation === this.#incarnation)
      return coreCall<R>(target.pid, request, timeoutMs);
    return this.#remoteCall<R>(
      target.node,
      target.incarnation,
      { pid: target.pid },
      request,
      timeoutMs,
      `${target.pid}@${target.node}`,
    );
  }

  async sendGlobal(name: string, message: unknown): Promise<void> {
    const h = this.#names.get(name);
    if (h === undefined) throw new NoProcError(`send to global name "${name}"`);
    if (h.node === this.node) {
      this.local.send(h.pid, message);
      return;
    }
    await this.#remoteSend(h.node, h.incarnation, { name }, message, `"${name}"`);
  }

  async send(target: GlobalPid, message: unknown): Promise<void> {
    if (target.node === this.node && target.incarnation === this.#incarnation) {
      this.local.send(target.pid, message);
      return;
    }
    await this.#remoteSend(
      target.node,
      target.incarnation,
      { pid: target.pid },
      message,
      `${target.pid}@${target.node}`,
    );
  }

  async #remoteCall<R>(
    node: string,
    inc: number,
    to: Target,
    req: unknown,
    timeoutMs: number,
    what: string,
  ): Promise<R> {
    const rep = await this.#peers.unary<CallRep>(
      node,
      'Call',
      { inc, to, req, t: timeoutMs } satisfies CallReq,
      timeoutMs + 1000,
      () => callTimeoutError(what, timeoutMs),
    );
    if ('e' in rep) throw deserializeError(rep.e);
    return rep.v as R;
  }

  async #remoteSend(node: string, inc: number, to: Target, msg: unknown, what: string): Promise<void> {
    const rep = await this.#peers.unary<Ack>(
      node,
      'Send',
      { inc, to, msg } satisfies SendReq,
      5000,
      () => new NodeUnreachableError(node, `send to ${what}`, 'timed out'),
    );
    if ('e' in rep) throw deserializeError(rep.e);
  }

  /** Answers a node's reachability probe; the incarnation tells a rejoined node from its old self. */
  ping(node: string, timeoutMs: number = CLUSTER_DEFAULTS.probeTimeoutMs): Promise<PingRep> {
    return this.#peers.unary<PingRep>(node, 'Ping', {}, timeoutMs);
  }

  // ---- the gRPC server: what other nodes ask of this one (node-service.ts) -----------------------

  async #listen(): Promise<void> {
    const self = this;
    this.#server.addService(
      NODE_SERVICE,
      nodeServiceHandlers({
        node: this.node,
        get incarnation() {
          return self.#incarnation;
        },
        local: this.local,
        localName: (name) => this.#localNames.get(name)?.pid,
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

  // ---- joining, keep-alive, rejoining ------------------------------------------------------------

  #memberKey(node = this.node): string {
    return `${this.prefix}members/${node}`;
  }

  #margin(): number {
    return Math.max(100, this.memberTtlMs / 10);
  }

  /** Writes the member key on a fresh lease; waits up to one TTL for a crashed predecessor's key to go. */
  async #join(first: boolean): Promise<void> {
    const until = Date.now() + this.memberTtlMs + 1500;
    for (;;) {
      const sent = performance.now();
      const lease = await this.etcd.leaseGrant(Math.ceil(this.memberTtlMs / 1000));
      const key = enc(this.#memberKey());
      const value: Omit<Member, 'incarnation'> = {
        node: this.node,
        host: hostname(),
        pid: process.pid,
        address: this.#address,
        startedAt: this.#startedAt,
      };
      const t = await this.etcd.txn(
        [{ key, target: T.create, result: Result.equal, create_revision: 0 }],
        [{ request_put: { key, value: enc(JSON.stringify(value)), lease: lease.id } }],
        [{ request_range: { key } }],
      );
      if (t.succeeded) {
        this.#incarnation = num(t.header.revision);
        this.#leaseId = lease.id;
        this.#deadline = sent + Math.min(this.memberTtlMs, lease.ttlS * 1000) - this.#margin();
        this.#state = 'up';
        this.membership.put({ ...value, incarnation: this.#incarnation });
        this.#log.info(
          { cluster: this.cluster, node: this.node, incarnation: this.#incarnation, address: this.#address },
          'joined the cluster',
        );
        await this.#publishStatus().catch(() => {});
        return;
      }
      void this.etcd.leaseRevoke(lease.id).catch(() => {});
      const holder = t.responses[0]?.response_range?.kvs[0];
      if (first && Date.now() > until)
        throw new NodeNameTakenError(
          this.cluster,
          this.node,
          holder === undefined ? undefined : JSON.parse(holder.value.toString('utf8')),
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  #schedule(): void {
    const every = this.memberTtlMs / 3;
    const tick = () => {
      this.#keepAliveTimer = setTimeout(() => {
        void this.#keepAlive().finally(() => {
          if (this.#state !== 'stopped') tick();
        });
      }, every);
    };
    tick();
    const probe = this.#o.probeIntervalMs ?? CLUSTER_DEFAULTS.probeIntervalMs;
    if (probe > 0) this.#timers.push(setInterval(() => void this.#probe(), probe));
    this.#timers.push(
      setInterval(
        () => void this.#publishStatus().catch(() => {}),
        this.#o.statusIntervalMs ?? CLUSTER_DEFAULTS.statusIntervalMs,
      ),
    );
  }

  async #keepAlive(): Promise<void> {
    if (this.#state === 'stopped') return;
    const sent = performance.now();
    let ttlS: number;
    try {
      ttlS = await this.etcd.keepAliveOnce(
        this.#leaseId,
        Math.max(200, Math.min(this.etcd.callTimeoutMs, this.memberTtlMs / 3)),
      );
    } catch (e) {
      if (this.#state === 'up' && performance.now() >= this.#deadline) {
        this.#state = 'disconnected';
        this.#log.warn(
          { cluster: this.cluster, node: this.node, err: String(e) },
          'lost etcd: past the member deadline',
        );
      }
      return;
    }
    if (ttlS > 0) {
      this.#deadline = sent + Math.min(this.memberTtlMs, ttlS * 1000) - this.#margin();
      if (this.#state === 'disconnected') this.#state = 'up';
      return;
    }
    await this.#rejoin();
  }

  /** etcd dropped our member lease (we were declared down): join as a new incarnation. */
  #rejoin(): Promise<void> {
    if (this.#rejoining !== undefined) return this.#rejoining;
    this.#rejoining = (async () => {
      const old = this.#incarnation;
      this.#state = 'disconnected';
      this.membership.delete(this.node, old);
      try {
        await this.#join(false);
        await this.#resync();
        for (const [name, { pid }] of [...this.#localNames]) {
          await this.#writeName(name, pid).catch((e) => {
            this.#log.warn({ name, pid, err: String(e) }, 'global name not re-registered after rejoin');
            const h = this.#localNames.get(name);
            if (h !== undefined) this.local.demonitor(h.ref);
            this.#localNames.delete(name);
          });
        }
        this.#log.info(
          { node: this.node, from: old, to: this.#incarnation },
          'rejoined the cluster as a new incarnation',
        );
      } catch (e) {
        this.#log.warn({ node: this.node, err: String(e) }, 'rejoin failed; will retry');
      }
    })().finally(() => {
      this.#rejoining = undefined;
    });
    return this.#rejoining;
  }

  async #probe(): Promise<void> {
    if (this.#state !== 'up') return;
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

  // ---- following the cluster's keys --------------------------------------------------------------

  #apply(kv: IKeyValue, deleted: boolean, prev?: IKeyValue): void {
    const key = kv.key.toString('utf8');
    const rest = key.slice(this.prefix.length);
    const slash = rest.indexOf('/');
    const kind = rest.slice(0, slash);
    const id = rest.slice(slash + 1);
    if (kind === 'members') {
      if (deleted) {
        const inc = num(prev?.create_revision);
        if (id === this.node && inc === this.#incarnation && this.#state !== 'stopped') {
          void this.#rejoin();
          return;
        }
        this.membership.delete(id, inc || (this.membership.get(id)?.incarnation ?? 0));
      } else {
        const v = parseRecord<Omit<Member, 'incarnation'>>(
          kv,
          (x) => typeof x.node === 'string' && typeof x.address === 'string',
        );
        if (v === undefined) throw new Error('not a member record');
        this.membership.put({ ...v, incarnation: num(kv.create_revision) });
      }
    } else if (kind === 'names') {
      if (deleted) this.#names.delete(id);
      else {
        const v = parseRecord<NameRecord>(kv, (x) => typeof x.node === 'string' && typeof x.pid === 'string');
        if (v === undefined) throw new Error('not a name record');
        this.#names.set(id, v);
      }
    }
  }

  /** A key that is not ours to parse (written by hand, another version) is logged and skipped, never fatal. */
  #applySafe(kv: IKeyValue, deleted: boolean, prev?: IKeyValue): void {
    try {
      this.#apply(kv, deleted, prev);
    } catch (e) {
      this.#log.warn(
        { key: kv.key.toString('utf8'), err: String(e) },
        'cluster key skipped: not a Trellis record',
      );
    }
  }

  /** Reads members and names, then follows them with a prefix watch from the next revision. */
  async #follow(): Promise<void> {
    const rev = await this.#resync();
    const w = await this.etcd.watchPrefix(this.prefix, rev + 1);
    w.on('put', (kv) => this.#applySafe(kv, false));
    w.on('delete', (kv, prev) => this.#applySafe(kv, true, prev));
    w.on('error', (e) => this.#log.warn({ err: String(e) }, 'cluster watch error'));
    this.#watcher = w;
  }

  async #resync(): Promise<number> {
    const [m, n] = await Promise.all([
      this.etcd.rangePrefix(`${this.prefix}members/`),
      this.etcd.rangePrefix(`${this.prefix}names/`),
    ]);
    const members: Member[] = [];
    for (const kv of m.kvs) {
      const v = parseRecord<Omit<Member, 'incarnation'>>(
        kv,
        (x) => typeof x.node === 'string' && typeof x.address === 'string',
      );
      if (v !== undefined) members.push({ ...v, incarnation: num(kv.create_revision) });
      else
        this.#log.warn({ key: kv.key.toString('utf8') }, 'cluster key skipped: not a Trellis member record');
    }
    this.membership.reset(members);
    this.#names.clear();
    for (const kv of n.kvs) {
      const v = parseRecord<NameRecord>(kv, (x) => typeof x.node === 'string' && typeof x.pid === 'string');
      if (v !== undefined) this.#names.set(kv.key.toString('utf8').slice(`${this.prefix}names/`.length), v);
    }
    return Math.min(m.revision, n.revision);
  }

  // ---- status ------------------------------------------------------------------------------------

  /** This node's status record, as published under `status/<node>`. */
  status(): NodeStatus {
    return collectStatus(this, [...this.#localNames.keys()], this.#o.status);
  }

  async #publishStatus(): Promise<void> {
    if (this.#state !== 'up') return;
    const key = enc(`${this.prefix}status/${this.node}`);
    await this.etcd.txn(
      [
        {
          key: enc(this.#memberKey()),
          target: T.create,
          result: Result.equal,
          create_revision: this.#incarnation,
        },
      ],
      [{ request_put: { key, value: enc(JSON.stringify(this.status())), lease: this.#leaseId } }],
      [],
    );
  }

  /** A lease store on this cluster's etcd (leases under `/<cluster>/leases/`), sharing the connection. */
  async leaseStore(): Promise<EtcdLeaseStore> {
    if (this.#leaseStore === undefined)
      this.#leaseStore = await EtcdLeaseStore.open({ etcd: this.etcd, prefix: this.prefix });
    return this.#leaseStore;
  }

  /** Leaves: revokes the member lease (the member key, names and status go at once), stops the server. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    if (current === this) current = undefined;
    if (this.#keepAliveTimer !== undefined) clearTimeout(this.#keepAliveTimer);
    if (this.#statusTimer !== undefined) clearTimeout(this.#statusTimer);
    for (const t of this.#timers) clearInterval(t);
    this.#monitors.close();
    for (const { ref } of this.#localNames.values()) this.local.demonitor(ref);
    this.#localNames.clear();
    if (this.#leaseId !== '') await this.etcd.leaseRevoke(this.#leaseId, 1000).catch(() => {});
    await this.#watcher?.cancel().catch(() => {});
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
