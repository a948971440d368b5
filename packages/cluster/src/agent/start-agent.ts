/**
 * `startAgent(opts)`: this process becomes an agent of a cluster, a cluster node that announces the
 * `agent` role and hosts Python workers for the pools of other nodes (`trellis agent` is this, from
 * the command line). Its tree, like any Trellis application's:
 *
 *   top (rest_for_one)
 *   ├── trellis-registry   records every OS process it spawns (no orphans after a crash of the agent)
 *   ├── cluster-node       membership, the gRPC server with the node and Agent services (mTLS)
 *   └── trellis-agent      the hosted workers (agent-actor.ts); restarted with a restarted node
 *
 * rest_for_one: a restarted cluster node is a new incarnation with a new server, so the agent that
 * served on the old one restarts after it (its workers were killed with the old membership anyway).
 */
import { hostname } from 'node:os';
import { type Application, type ChildSpec, start as coreStart } from '@trellis/core';
import { type RegistryChildOptions, registryChild } from '@trellis/registry';
import { type ClusterNodeChildOptions, clusterNodeChild } from '../node/cluster-child.js';
import { type ClusterNode, currentCluster } from '../node/cluster-node.js';
import { type AgentChildOptions, agentChild, hostedWorkersOf } from './agent-actor.js';
import { AGENT_ROLE, type WorkerOwner } from './agent-wire.js';

export interface AgentOptions extends ClusterNodeChildOptions, Omit<AgentChildOptions, 'node' | 'name'> {
  /** The registry of the processes it spawns (default: registryChild() in TRELLIS_HOME); false: none. */
  readonly registry?: RegistryChildOptions | false;
  /** Stop on SIGINT/SIGTERM and exit the process (the command line's behaviour; default false). */
  readonly ownProcess?: boolean;
}

export interface Agent {
  readonly node: ClusterNode;
  readonly app: Application;
  /** The workers it hosts now. */
  workers(): { id: string; pid: number; owner: WorkerOwner }[];
  /** Stops the hosted workers (SIGTERM, then SIGKILL after stopGraceMs), leaves the cluster. */
  stop(): Promise<void>;
}

function hostedWorkersOfCurrent() {
  try {
    return hostedWorkersOf(currentCluster());
  } catch {
    return undefined;
  }
}

export async function startAgent(o: AgentOptions = {}): Promise<Agent> {
  const roles = [...new Set([AGENT_ROLE, ...(o.roles ?? [])])];
  const children: ChildSpec[] = [
    ...(o.registry === false ? [] : [registryChild(o.registry ?? {})]),
    clusterNodeChild({
      ...o,
      node: o.node ?? hostname(),
      roles,
      // The status record (`trellis status --cluster`) lists the hosted workers and their owners.
      status: () => ({
        ...o.status?.(),
        agent: { workers: hostedWorkersOfCurrent()?.list() ?? [] },
      }),
    }),
    agentChild({
      ownerGraceMs: o.ownerGraceMs,
      stopGraceMs: o.stopGraceMs,
      cwd: o.cwd,
      tlsFiles: o.tlsFiles,
    }),
  ];
  const own = o.ownProcess === true;
  const app = await coreStart(
    { flags: { strategy: 'rest_for_one', intensity: 3, periodMs: 10_000 }, children },
    { handleSignals: own, exitProcess: own },
  );
  const node = currentCluster();
  return {
    node,
    app,
    workers: () => hostedWorkersOfCurrent()?.list() ?? [],
    stop: async () => {
      await app.stop();
    },
  };
}
