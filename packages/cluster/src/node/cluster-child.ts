/**
 * How a node joins: as a supervised child, like everything else in Trellis. `clusterNodeChild(o)` is
 * a gen_server whose init joins the cluster (and fails the start with ERR_CLUSTER_UNAVAILABLE when
 * etcd does not answer) and whose terminate leaves it. `start(tree, { cluster })` from this package
 * is core's `start` with that child first in the top supervisor, so every later child can use global
 * names, `{ via: 'cluster', name }` and leases on etcd from its own start on.
 *
 * Core does not import this package (it must not depend on etcd); this package wraps core's start,
 * as `observerChild` plugs in through core's `observer` option.
 */
import {
  type Application,
  type ChildSpec,
  start as coreStart,
  defineServer,
  registerViaRegistry,
  reply,
  type StartOptions,
  type SupervisorSpec,
  serverChild,
  unregisterViaRegistry,
} from '@trellis/core';
import { ClusterNode } from './cluster-node.js';
import { ClusterViaRegistry } from './cluster-via.js';
import type { ClusterOptions } from './node-options.js';
import { nodeReport } from './node-report.js';

export interface ClusterNodeChildOptions extends ClusterOptions {
  /** Registered name of the node's server (default 'cluster'). */
  readonly serverName?: string;
  /** Key under which the via registry is registered (default 'cluster'). */
  readonly via?: string;
}

interface S {
  readonly node: ClusterNode;
  readonly via: string;
}

const nodeServer = defineServer<S, [ClusterNodeChildOptions]>({
  // Reports show who the node is: the node object reaches etcd's client, its mTLS key and CA.
  formatStatus: ({ state, message, reason }) => ({
    state: state === undefined ? undefined : { ...nodeReport(state.node), via: state.via },
    message,
    reason,
  }),
  async init(ctx, o) {
    const node = await ClusterNode.start(o, ctx.node);
    const via = o.via ?? 'cluster';
    registerViaRegistry(via, new ClusterViaRegistry(node));
    // A kill skips terminate: the node must still stop its timers and server with the process.
    ctx.node.monitor(() => void node.stop().catch(() => {}), ctx.self);
    return { node, via };
  },
  handleCall(req: { op: 'self' | 'nodes' | 'status' }, _from, s) {
    if (req?.op === 'nodes') return reply(s.node.nodes(), s);
    if (req?.op === 'status') return reply(s.node.status(), s);
    return reply(s.node.self, s);
  },
  async terminate(_reason, s) {
    unregisterViaRegistry(s.via);
    await s.node.stop();
  },
});

/** The cluster node as a child spec (put it first: later children may use global names at start). */
export function clusterNodeChild(o: ClusterNodeChildOptions = {}): ChildSpec {
  // A permanent worker with the default 5 s shutdown.
  return {
    id: 'cluster-node',
    start: serverChild(nodeServer, { name: o.serverName ?? 'cluster', trapExit: true }),
    args: [o],
  };
}

export interface ClusterStartOptions extends StartOptions {
  /** Join this cluster: the node runs as the first child of the top supervisor. */
  readonly cluster?: ClusterNodeChildOptions;
}

/** core's `start(tree)`, with `{ cluster }`: the node joins as the first child of the tree. */
export function start(tree: SupervisorSpec, opts: ClusterStartOptions = {}): Promise<Application> {
  const { cluster, ...rest } = opts;
  if (cluster === undefined) return coreStart(tree, rest);
  return coreStart({ ...tree, children: [clusterNodeChild(cluster), ...(tree.children ?? [])] }, rest);
}
