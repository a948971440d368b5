/**
 * A worker that an agent runs on another node, as the pool sees it (grpc-bridge's WorkerHandle).
 *
 * Calls go straight to the worker's gRPC server (mTLS with this node's certificate, and the pool's
 * secret as metadata, like a local worker's client): the agent is not on the data path. What the
 * agent gives is the worker's life: its exit arrives on the Watch stream, and Stop/Kill go through
 * it. The handle ends in exactly one of these ways:
 *
 *   - the agent reports the exit on Watch (it exited, was stopped or killed);
 *   - the worker's node goes down in the membership: `exit.node = { why: 'down' }` (the agent and
 *     its workers are gone, or about to be killed by its own lease rule);
 *   - the agent's port refuses connections (after a broken Watch, or when the probes find the node
 *     unreachable): its process is gone, and its workers with it (parent death), so this is
 *     `why: 'down'` at once, without waiting for its member lease to lapse;
 *   - this node's probes find the node unreachable and its port does not refuse (a partition, or a
 *     paused agent): `exit.node = { why: 'unreachable' }`, then a best-effort Kill (if it never
 *     arrives, the agent kills the worker once our Watch pings stop for ownerGraceMs);
 *   - the agent says it does not know the worker (it restarted).
 * A broken Watch stream alone is not an end: it is reopened while the node is up and reachable.
 */
import { connect } from 'node:net';
import type { ServiceError } from '@grpc/grpc-js';
import { getLogger, type TrellisError } from '@trellis/core';
import {
  createToolClient,
  describeTool,
  type ToolDescription,
  type WorkerExit,
  type WorkerHandle,
  type WorkerNode,
} from '@trellis/grpc-bridge';
import type { NodeEvent } from '../node/membership.js';
import type { NodeTlsOptions } from '../node/wire.js';
import type { AgentConnection, LaunchOk } from './agent-client.js';
import type { WireExit } from './agent-wire.js';

type ToolServiceClient = WorkerHandle['client'];
type Info = WorkerHandle['info'];

/** What the handle needs of the client's cluster node. */
export interface RemoteWorkerHost {
  monitorNode(node: string, watcher: (e: NodeEvent) => void): unknown;
  demonitorNode(ref: never): void;
  /** Whether `node` in this incarnation is still a member, and reachable from here. */
  isLive(node: string, incarnation: number): boolean;
}

export class RemoteWorker implements WorkerHandle {
  readonly pid: number;
  readonly address: string;
  readonly client: ToolServiceClient;
  readonly lane = undefined;
  readonly tools: readonly ToolDescription[];
  readonly info: Info;
  readonly startMs: number;
  maxRssMb: number;
  readonly node: WorkerNode;
  readonly workerId: string;
  readonly oomKillsAtStart = undefined;
  #killedByHost = false;
  #killCause: TrellisError | undefined;
  #exit: WorkerExit | undefined;
  readonly #exited: Promise<WorkerExit>;
  #resolveExited: (e: WorkerExit) => void = () => {};
  readonly #listeners: ((e: WorkerExit) => void)[] = [];
  readonly #agent: AgentConnection;
  readonly #host: RemoteWorkerHost;
  readonly #nodeRef: unknown;
  readonly #pingMs: number;
  #cancelWatch: () => void = () => {};
  #closed = false;

  constructor(
    agent: AgentConnection,
    node: WorkerNode,
    rep: LaunchOk,
    o: {
      readonly secret: string;
      readonly maxMessageBytes: number;
      readonly maxRssMb: number | undefined;
      readonly tls: NodeTlsOptions | undefined;
      readonly startMs: number;
    },
    host: RemoteWorkerHost,
  ) {
    this.#agent = agent;
    this.#host = host;
    this.node = node;
    this.workerId = rep.workerId;
    this.pid = rep.pid;
    this.address = rep.address;
    this.info = rep.info as Info;
    this.tools = this.info.tools.map(describeTool);
    this.startMs = o.startMs;
    this.maxRssMb = o.maxRssMb ?? Number.POSITIVE_INFINITY;
    this.client = createToolClient(
      rep.address,
      o.maxMessageBytes,
      o.secret,
      rep.tls && o.tls !== undefined
        ? { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, serverName: o.tls.serverName }
        : undefined,
    );
    this.#exited = new Promise((r) => {
      this.#resolveExited = r;
    });
    // Ping well within the agent's grace: a late ping is a dead owner to the agent.
    this.#pingMs = Math.max(20, Math.min(1000, Math.floor(rep.ownerGraceMs / 4)));
    this.#nodeRef = host.monitorNode(node.node, (e) => this.#onNodeEvent(e));
    this.#watch();
  }

  #watch(): void {
    if (this.#exit !== undefined) return;
    this.#cancelWatch = this.#agent.watch(
      this.workerId,
      this.#pingMs,
      (e) => this.#settle(this.#fromWire(e)),
      (err) => {
        if (this.#exit !== undefined) return;
        const code = (err as { code?: string }).code;
        if (code === 'ERR_AGENT_NO_WORKER') {
          this.#settle({
            pid: this.pid,
            exitCode: null,
            signal: null,
            stderrTail: `the agent on node "${this.node.node}" no longer knows this worker: ${err.message}`,
          });
          return;
        }
        // A broken stream: a dead agent (its port refuses) ends the handle; else reopen the stream
        // while the node is up and reachable (the membership ends the handle otherwise, and the
        // agent's grace covers the gap).
        void this.#agentRefuses().then((refused) => {
          if (refused) this.#lost('down');
          else
            setTimeout(() => {
              if (this.#host.isLive(this.node.node, this.node.incarnation)) this.#watch();
            }, 200).unref();
        });
      },
    );
  }

  #fromWire(e: WireExit): WorkerExit {
    const exit = { pid: e.pid, exitCode: e.exitCode, signal: e.signal, stderrTail: e.stderrTail };
    // Killed by its agent because that incarnation of the node is over (lease lost): lost with its
    // node, so the pool drops the slot instead of restarting it on an agent that refuses launches.
    return e.nodeGone === true
      ? { ...exit, node: { node: this.node.node, incarnation: this.node.incarnation, why: 'down' } }
      : exit;
  }

  #onNodeEvent(e: NodeEvent): void {
    if (e.incarnation !== this.node.incarnation || this.#exit !== undefined) return;
    if (e.type === 'nodedown') this.#lost('down');
    else if (e.type === 'unreachable')
      void this.#agentRefuses().then((refused) => {
        if (refused) this.#lost('down');
        else {
          this.#lost('unreachable');
          this.#bestEffortKill();
        }
      });
  }

  /**
   * Whether the agent's host answers but nothing listens on its port (ECONNREFUSED): the agent's
   * process is gone. A timeout or any other failure is not that (a partition drops, it does not refuse).
   */
  #agentRefuses(timeoutMs = 500): Promise<boolean> {
    const a = this.#agent.address;
    const i = a.lastIndexOf(':');
    return new Promise((resolve) => {
      const s = connect({ host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) });
      const done = (refused: boolean): void => {
        clearTimeout(t);
        s.destroy();
        resolve(refused);
      };
      const t = setTimeout(() => done(false), timeoutMs);
      s.once('connect', () => done(false));
      s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
    });
  }

  #lost(why: 'down' | 'unreachable'): void {
    this.#settle({
      pid: this.pid,
      exitCode: null,
      signal: null,
      node: { node: this.node.node, incarnation: this.node.incarnation, why },
    });
  }

  /** A few Kill attempts over a few seconds: the path may heal; if not, the agent's grace rule acts. */
  #bestEffortKill(tries = 3): void {
    void this.#agent.kill(this.workerId, 1000).catch(() => {
      if (tries > 1) setTimeout(() => this.#bestEffortKill(tries - 1), 1000).unref();
    });
  }

  #settle(exit: WorkerExit): void {
    if (this.#exit !== undefined) return;
    this.#exit = exit;
    this.#cancelWatch();
    this.#host.demonitorNode(this.#nodeRef as never);
    for (const l of this.#listeners.splice(0)) {
      try {
        l(exit);
      } catch (e) {
        getLogger().warn({ worker: this.workerId, err: String(e) }, 'remote worker exit listener failed');
      }
    }
    this.#resolveExited(exit);
  }

  get exit(): WorkerExit | undefined {
    return this.#exit;
  }
  get exited(): Promise<WorkerExit> {
    return this.#exited;
  }
  get killedByHost(): boolean {
    return this.#killedByHost;
  }
  get killCause(): TrellisError | undefined {
    return this.#killCause;
  }

  onExit(cb: (exit: WorkerExit) => void): void {
    if (this.#exit !== undefined) cb(this.#exit);
    else this.#listeners.push(cb);
  }

  stderrTail(): string {
    return this.#exit?.stderrTail ?? '';
  }

  killFor(cause: TrellisError): void {
    if (this.#exit === undefined && this.#killCause === undefined) this.#killCause = cause;
    this.kill();
  }

  /** SIGKILL through the agent; the exit comes back on Watch (or from the membership). */
  kill(): void {
    if (this.#exit !== undefined) return;
    this.#killedByHost = true;
    this.#bestEffortKill();
  }

  async stop(killAfterMs: number): Promise<WorkerExit> {
    if (this.#exit !== undefined) return this.#exit;
    this.#killedByHost = true;
    try {
      this.#settle(this.#fromWire(await this.#agent.stop(this.workerId, killAfterMs)));
    } catch (e) {
      // The agent did not answer: count the worker lost with its node; the agent's grace rule (our
      // Watch pings stop now) or its lease rule kills it there.
      if (this.#exit === undefined) {
        getLogger().warn(
          { worker: this.workerId, node: this.node.node, err: String(e) },
          'remote worker stop: the agent did not answer; it kills the worker when our watch lapses',
        );
        this.#lost((e as { code?: string }).code === 'ERR_NODE_DOWN' ? 'down' : 'unreachable');
      }
    }
    return this.#exited;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelWatch();
    this.client.close();
  }

  /** Not readable from this machine: the worker's own cap (`--max-rss-mb`) enforces its limit there. */
  readRss(): number | undefined {
    return undefined;
  }
  sampleRss(): number | undefined {
    return undefined;
  }
  readCpuSeconds(): number | undefined {
    return undefined;
  }

  /** Waits for the channel to the worker to be up (mTLS handshake included). */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.waitForReady(new Date(Date.now() + timeoutMs), (err?: Error | ServiceError) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
}
