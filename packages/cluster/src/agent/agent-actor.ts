/**
 * The agent as a supervised actor: a gen_server that owns the hosted-worker set of its cluster
 * node. Its init serves the Agent service on the node's gRPC server (once per node: grpc-js cannot
 * take a service twice, so the handlers find the current set through a pointer the actor sets), and
 * its exit stops every hosted worker: terminate stops them in order, and a kill (which skips
 * terminate) still kills them through a monitor on the actor.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChildSpec, defineServer, reply, serverChild } from '@trellis/core';
import type { WorkerTls } from '@trellis/grpc-bridge';
import { type ClusterNode, currentCluster } from '../node/cluster-node.js';
import { nodeReport } from '../node/node-report.js';
import { agentServiceHandlers } from './agent-service.js';
import { AGENT_SERVICE } from './agent-wire.js';
import { HostedWorkers } from './hosted-workers.js';

export interface AgentChildOptions {
  /** How long an owner's Watch may stay silent before its workers are killed (default: the member TTL). */
  readonly ownerGraceMs?: number;
  /** How long a stopping agent gives its workers after SIGTERM (default 2000 ms). */
  readonly stopGraceMs?: number;
  /** Where relative tool paths and the Python lookup start (default process.cwd()). */
  readonly cwd?: string;
  /** Registered name of the actor (default 'trellis-agent'). */
  readonly name?: string;
  /** The cluster node (default: the one started last in this process). */
  readonly node?: ClusterNode;
  /**
   * The node certificate as files, for the workers' `--tls-*` options (`trellis agent --certs` passes
   * them). Without them a node with tls writes its PEMs to a private temporary folder, removed when
   * the agent stops (a kill -9 of the agent leaves that folder behind: prefer the files).
   */
  readonly tlsFiles?: WorkerTls;
}

/** The node's PEMs written to a 0700 folder (0600 files) for the workers; returns them and the remover. */
function writeTlsFiles(node: ClusterNode): { files: WorkerTls; remove: () => void } | undefined {
  const tls = node.tls;
  if (tls === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'trellis-agent-tls-'));
  const put = (name: string, data: Buffer): string => {
    const f = join(dir, name);
    writeFileSync(f, data, { mode: 0o600 });
    chmodSync(f, 0o600);
    return f;
  };
  return {
    files: {
      caFile: put('ca.pem', tls.ca),
      certFile: put('node.pem', tls.cert),
      keyFile: put('node.key', tls.key),
      serverName: tls.serverName,
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The set each node's Agent service serves now (none while its actor is down). */
const served = new WeakMap<ClusterNode, { hosted: HostedWorkers | undefined }>();

/** The workers hosted by `node`'s agent (for status and tests), or undefined when it runs none. */
export function hostedWorkersOf(node: ClusterNode): HostedWorkers | undefined {
  return served.get(node)?.hosted;
}

function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':'));
}

interface S {
  readonly node: ClusterNode;
  readonly hosted: HostedWorkers;
  readonly stopGraceMs: number;
  readonly removeTls: () => void;
}

const agentServer = defineServer<S, [AgentChildOptions]>({
  // Reports show the node and the hosted workers' ids and pids: the node reaches etcd's mTLS key.
  formatStatus: ({ state, message, reason }) => ({
    state:
      state === undefined
        ? undefined
        : {
            ...nodeReport(state.node),
            hosted: state.hosted.list().map((w) => ({ id: w.id, pid: w.pid, owner: w.owner.node })),
            stopGraceMs: state.stopGraceMs,
          },
    message,
    reason,
  }),
  init(ctx, o) {
    const node = o.node ?? currentCluster();
    let slot = served.get(node);
    if (slot === undefined) {
      const s: { hosted: HostedWorkers | undefined } = { hosted: undefined };
      node.addService(
        AGENT_SERVICE,
        agentServiceHandlers(node.node, () => s.hosted),
      );
      served.set(node, s);
      slot = s;
    }
    const written = o.tlsFiles === undefined ? writeTlsFiles(node) : undefined;
    const removeTls = written?.remove ?? (() => {});
    const hosted = new HostedWorkers(node, {
      listenHost: node.listenHost,
      advertiseHost: hostOf(node.address),
      ownerGraceMs: o.ownerGraceMs ?? node.memberTtlMs,
      cwd: o.cwd,
      tls: node.tls === undefined ? undefined : (o.tlsFiles ?? written?.files),
    });
    slot.hosted = hosted;
    // A kill skips terminate: the workers must still not outlive the actor that supervises them.
    ctx.node.monitor(() => {
      if (slot.hosted === hosted) slot.hosted = undefined;
      hosted.killAll('the agent actor exited');
      void hosted
        .close(0)
        .catch(() => {})
        .finally(removeTls);
    }, ctx.self);
    return { node, hosted, stopGraceMs: o.stopGraceMs ?? 2000, removeTls };
  },
  handleCall(req: { op: 'list' }, _from, s) {
    if (req?.op === 'list') return reply(s.hosted.list(), s);
    return reply(undefined, s);
  },
  async terminate(_reason, s) {
    const slot = served.get(s.node);
    if (slot?.hosted === s.hosted) slot.hosted = undefined;
    await s.hosted.close(s.stopGraceMs);
    s.removeTls();
  },
});

/** The agent's actor as a child spec: put it after the cluster node's child (clusterNodeChild). */
export function agentChild(o: AgentChildOptions = {}): ChildSpec {
  // A permanent worker, given the time to stop its workers on top of the default 5 s shutdown.
  return {
    id: 'trellis-agent',
    start: serverChild(agentServer, { name: o.name ?? 'trellis-agent', trapExit: true }),
    args: [o],
    shutdown: (o.stopGraceMs ?? 2000) + 5000,
  };
}
