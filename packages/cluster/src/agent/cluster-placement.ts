/**
 * The `cluster` PlacementProvider (grpc-bridge's pool/placement.ts): a pool with
 * `placement: { nodes: 'cluster' | [names], perNode }` runs its workers on the cluster's agents.
 * A cluster node registers it when it starts and unregisters it when it stops (cluster-node.ts).
 *
 *   watchNodes  members with the agent role, named in `nodes`, up (in the membership) and reachable
 *               (this node's probes), from the membership view and its events: no etcd round trip
 *   launch      Launch on the agent (agent-client.ts), then a RemoteWorker straight to the worker
 *   hostListen  the pool's HostService for remote workers: on this node's listen host, with its mTLS
 */
import { ServerCredentials } from '@grpc/grpc-js';
import { NodeDownError, NodeUnreachableError } from '@trellis/core';
import type {
  HostListen,
  PlacementNode,
  PlacementProvider,
  RemoteLaunch,
  WorkerHandle,
} from '@trellis/grpc-bridge';
import { TlsRefusedError } from '../errors.js';
import type { Member, NodeEvent } from '../node/membership.js';
import { probeTlsRefusal } from '../node/tls-refusal.js';
import { type NodeTlsOptions, serverCredentials } from '../node/wire.js';
import { AgentConnection } from './agent-client.js';
import { AGENT_ROLE } from './agent-wire.js';
import { RemoteWorker } from './remote-worker.js';

/** What the provider needs of its cluster node (a ClusterNode has all of it). */
export interface PlacementHost {
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
  readonly listenHost: string;
  readonly tls: NodeTlsOptions | undefined;
  nodes(): Member[];
  isUnreachable(node: string): boolean;
  membership: { get(node: string): Member | undefined };
  monitorNode(node: string | undefined, watcher: (e: NodeEvent) => void): unknown;
  demonitorNode(ref: never): void;
}

export class ClusterPlacement implements PlacementProvider {
  readonly #n: PlacementHost;
  readonly #agents = new Map<string, AgentConnection>();

  constructor(node: PlacementHost) {
    this.#n = node;
  }

  #live(nodes: 'cluster' | readonly string[]): PlacementNode[] {
    return this.#n
      .nodes()
      .filter(
        (m) =>
          (m.roles ?? []).includes(AGENT_ROLE) &&
          (nodes === 'cluster' || nodes.includes(m.node)) &&
          !this.#n.isUnreachable(m.node),
      )
      .map((m) => ({ node: m.node, incarnation: m.incarnation }));
  }

  watchNodes(
    nodes: 'cluster' | readonly string[],
    onChange: (live: readonly PlacementNode[]) => void,
  ): () => void {
    let last = '';
    const emit = (): void => {
      const live = this.#live(nodes);
      const key = JSON.stringify(live);
      if (key === last) return;
      last = key;
      onChange(live);
    };
    const ref = this.#n.monitorNode(undefined, () => emit());
    emit();
    return () => this.#n.demonitorNode(ref as never);
  }

  #agent(m: Member): AgentConnection {
    const have = this.#agents.get(m.node);
    if (have !== undefined && have.address === m.address) return have;
    have?.close();
    const c = new AgentConnection(m.node, m.address, this.#n.tls);
    this.#agents.set(m.node, c);
    return c;
  }

  #isLive(node: string, incarnation: number): boolean {
    return this.#n.membership.get(node)?.incarnation === incarnation && !this.#n.isUnreachable(node);
  }

  async launch(at: PlacementNode, launch: RemoteLaunch): Promise<WorkerHandle> {
    const what = `launch of a worker of pool "${launch.pool}" (slot ${launch.slot})`;
    const m = this.#n.membership.get(at.node);
    if (m === undefined || m.incarnation !== at.incarnation)
      throw new NodeDownError(at.node, what, { incarnation: at.incarnation });
    const agent = this.#agent(m);
    const t0 = performance.now();
    let rep: Awaited<ReturnType<AgentConnection['launch']>>;
    try {
      rep = await agent.launch(
        { launch, owner: { node: this.#n.node, incarnation: this.#n.incarnation, pool: launch.pool } },
        launch.startTimeoutMs + 10_000,
      );
    } catch (e) {
      // The agent's node went down meanwhile: say so, not "unreachable".
      const code = (e as { code?: string }).code;
      if (code === 'ERR_NODE_UNREACHABLE' && !this.#isLive(at.node, at.incarnation))
        throw new NodeDownError(at.node, what, { incarnation: at.incarnation, cause: e });
      // An agent that lost its member lease refuses launches: that incarnation of it is over (it
      // comes back as a new one), so the pool counts the slot lost with the node, not as a failed
      // start that spends the supervisor's restart intensity.
      if (
        code === 'ERR_AGENT_REFUSED' &&
        (e as { details?: { leaseLost?: unknown } }).details?.leaseLost === true
      )
        throw new NodeDownError(at.node, what, { incarnation: at.incarnation, cause: e });
      throw e;
    }
    const w = new RemoteWorker(
      agent,
      at,
      rep,
      {
        secret: launch.secret,
        maxMessageBytes: launch.maxMessageBytes,
        maxRssMb: launch.maxRssMb,
        tls: this.#n.tls,
        startMs: Math.round(performance.now() - t0),
      },
      {
        monitorNode: (node, watcher) => this.#n.monitorNode(node, watcher),
        demonitorNode: (ref) => this.#n.demonitorNode(ref),
        isLive: (node, inc) => this.#isLive(node, inc),
      },
    );
    // The first call must not be the one to find out that the worker refuses our certificate.
    try {
      await w.waitForReady(Math.max(1000, launch.startTimeoutMs));
    } catch (e) {
      w.kill();
      w.close();
      const tls = this.#n.tls;
      const reason = tls === undefined ? undefined : await probeTlsRefusal(rep.address, tls);
      if (reason !== undefined) throw new TlsRefusedError(at.node, rep.address, reason);
      throw new NodeUnreachableError(at.node, `connect to the worker at ${rep.address}`, e, {
        incarnation: at.incarnation,
      });
    }
    return w;
  }

  hostListen(): HostListen | undefined {
    const host = this.#n.address.slice(0, this.#n.address.lastIndexOf(':'));
    return {
      bind: `${this.#n.listenHost}:0`,
      credentials:
        this.#n.tls === undefined ? ServerCredentials.createInsecure() : serverCredentials(this.#n.tls),
      advertise: host,
    };
  }

  close(): void {
    for (const a of this.#agents.values()) a.close();
    this.#agents.clear();
  }
}
