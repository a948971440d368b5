/**
 * Every node of a cluster as rows for the observer's cluster view (`observerChild({ cluster:
 * clusterViewSource() })`): host, incarnation, state, the runs and Python workers it supervises, its
 * pools and their sizes, all read from the nodes' status records (`readClusterView`). Python workers
 * are those of the node's own ToolPools plus, on an agent node, those it hosts for other nodes' pools.
 *
 * The state follows docs/cluster.md: `down` only when etcd says so (the member key is gone: the node
 * was seen, and is no longer a member), `unreachable` when this node's probes fail to reach a member
 * (read from the local ClusterNode; a source on bare endpoints has no probes), else `up`. A node that
 * went down stays in the rows, marked down, for `keepDownMs` or until it joins again: a view that
 * dropped it at once would hide the very event an operator looks for.
 *
 * The row type is structural: the observer declares the same shape and does not import this package.
 */
import { EtcdConnection, type EtcdTlsOptions } from '../etcd/etcd-connection.js';
import { type ClusterNode, currentCluster } from './cluster-node.js';
import { CLUSTER_DEFAULTS } from './node-options.js';
import { type ClusterView, type NodeStatus, type PoolStatus, readClusterView } from './status.js';

export type ClusterNodeState = 'up' | 'unreachable' | 'down';

export interface ClusterNodeRow {
  readonly node: string;
  readonly incarnation: number;
  readonly host: string;
  readonly pid: number | undefined;
  readonly address: string;
  readonly state: ClusterNodeState;
  /** When the node was first seen down (ms since the epoch). */
  readonly downSince?: number | undefined;
  /** When its status record was last written (ms since the epoch); undefined before the first. */
  readonly updatedAt: number | undefined;
  /** The Trellis runs of the OS processes it supervises. */
  readonly runs: readonly string[];
  /** Live Python workers of its pools. */
  readonly pythonWorkers: number;
  /** Its pools as their status records give them, without the per-worker list. */
  readonly pools: readonly Omit<PoolStatus, 'workers'>[];
  readonly names: readonly string[];
}

export interface ClusterViewSource {
  nodes(): Promise<ClusterNodeRow[]>;
  /** Calls onChange at every membership event of the local node (none for a source on endpoints). */
  subscribe?(onChange: () => void): () => void;
  /** Closes the etcd connection the source opened (a source on endpoints). */
  close(): void;
}

export interface ClusterViewSourceOptions {
  /** etcd client URLs of the cluster to show (a source without a local node). */
  readonly etcd: readonly string[];
  readonly etcdTls?: EtcdTlsOptions;
  /** The cluster's name (default 'trellis'). */
  readonly name?: string;
  /** How long a node that went down stays in the rows (default 10 minutes). */
  readonly keepDownMs?: number;
}

/** Workers an agent node hosts for pools of other nodes (its record's `extra.agent.workers`). */
function hostedWorkers(s: NodeStatus | undefined): number {
  const w = (s?.extra?.agent as { workers?: unknown } | undefined)?.workers;
  return Array.isArray(w) ? w.length : 0;
}

function rowOf(n: ClusterView['nodes'][number], state: ClusterNodeState): ClusterNodeRow {
  const s: NodeStatus | undefined = n.status;
  const m = (n.member ?? {}) as { host?: string; pid?: number; address?: string };
  const pools = (s?.pools ?? []).map((p) => ({
    name: p.name,
    size: p.size,
    ready: p.ready,
    busy: p.busy,
    inFlight: p.inFlight,
    queued: p.queued,
  }));
  return {
    node: n.node,
    incarnation: n.incarnation,
    host: s?.host ?? m.host ?? '',
    pid: s?.pid ?? m.pid,
    address: s?.address ?? m.address ?? '',
    state,
    updatedAt: s?.updatedAt,
    runs: s?.runs ?? [],
    pythonWorkers:
      (s?.pools ?? []).reduce((k, p) => k + p.workers.filter((w) => w.state !== 'gone').length, 0) +
      hostedWorkers(s),
    pools,
    names: s?.names ?? [],
  };
}

/**
 * The cluster's nodes as rows. Without an argument it shows the cluster of the node running in this
 * process (`currentCluster()`, looked up at each read, so the observer may start first); with a
 * ClusterNode, that node's cluster; with `{ etcd, name }`, any cluster (no unreachable state then).
 */
export function clusterViewSource(from?: ClusterNode | ClusterViewSourceOptions): ClusterViewSource {
  const opts =
    from !== undefined && 'etcd' in from && Array.isArray(from.etcd)
      ? (from as ClusterViewSourceOptions)
      : undefined;
  const fixed = opts === undefined ? (from as ClusterNode | undefined) : undefined;
  const keepDownMs = opts?.keepDownMs ?? 10 * 60_000;
  let conn: Promise<EtcdConnection> | undefined;
  /** The last row of every node seen, to show it down when its member key goes. */
  const seen = new Map<string, ClusterNodeRow>();

  const local = (): ClusterNode | undefined => {
    if (fixed !== undefined) return fixed;
    if (opts !== undefined) return undefined;
    return currentCluster();
  };

  return {
    async nodes() {
      const node = local();
      let view: ClusterView;
      if (node !== undefined) view = await readClusterView(node.etcd, node.cluster);
      else {
        conn ??= EtcdConnection.connect({ endpoints: opts?.etcd, tls: opts?.etcdTls });
        view = await readClusterView(await conn, opts?.name ?? CLUSTER_DEFAULTS.name);
      }
      const now = Date.now();
      const rows: ClusterNodeRow[] = [];
      const present = new Set<string>();
      for (const n of view.nodes) {
        present.add(n.node);
        const row = rowOf(n, node?.isUnreachable(n.node) === true ? 'unreachable' : 'up');
        seen.set(n.node, row);
        rows.push(row);
      }
      for (const [name, last] of seen) {
        if (present.has(name)) continue;
        const downSince = last.downSince ?? now;
        if (now - downSince > keepDownMs) {
          seen.delete(name);
          continue;
        }
        const down: ClusterNodeRow = { ...last, state: 'down', downSince };
        seen.set(name, down);
        rows.push(down);
      }
      return rows.sort((a, b) => a.node.localeCompare(b.node));
    },
    subscribe(onChange) {
      let node: ClusterNode | undefined;
      try {
        node = local();
      } catch {
        return () => {};
      }
      if (node === undefined) return () => {};
      const ref = node.monitorNode(undefined, () => onChange());
      return () => node.demonitorNode(ref);
    },
    close() {
      void conn?.then((c) => c.close()).catch(() => {});
    },
  };
}
