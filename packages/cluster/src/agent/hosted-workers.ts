/**
 * The Python workers an agent runs for other nodes' pools, and the rules that kill them.
 *
 * Each worker is spawned with grpc-bridge's `WorkerProcess.launch`, exactly as a local pool spawns
 * its own: the registry records it, it gets a cgroup (or an environment tag) for its descendants, it
 * dies with the agent (parent-death signal, EOF on stdin), its memory is capped. What a worker must
 * never do is outlive the pool that owns it, unsupervised. So a worker is killed when:
 *
 *   - its owner asks (Stop, Kill);
 *   - its owner's node goes down in the membership (that incarnation is gone for good), or the
 *     owner's node is seen with a newer incarnation (it restarted: the old pool is gone);
 *   - no Watch stream of its owner has pinged it for longer than `ownerGraceMs`: the owner may still
 *     be a member but be cut off from this agent, and then nobody supervises the worker;
 *   - this agent loses its own member lease (its keeper deadline passed, or etcd dropped the lease):
 *     every other node is about to count it down and start replacements elsewhere, so all its
 *     workers go at once, before the replacements exist. Launches are refused until it is up again.
 *
 * The set lives in a supervised actor (agent-actor.ts) that owns its lifetime: the actor's exit
 * stops every hosted worker.
 */

import { getLogger, systemClock } from '@trellis/core';
import {
  BRIDGE_DEFAULTS,
  newWorkerTag,
  resolvePython,
  WorkerCgroups,
  type WorkerExit,
  WorkerProcess,
  type WorkerTls,
} from '@trellis/grpc-bridge';
import { AgentNoWorkerError, AgentRefusedError } from '../errors.js';
import type { NodeEvent } from '../node/membership.js';
import type { LaunchRep, LaunchReq, WireExit, WorkerOwner } from './agent-wire.js';
import { checkLaunchReq } from './launch-check.js';

/** What the set needs of its cluster node (a ClusterNode has all of it). */
export interface AgentNode {
  readonly node: string;
  readonly state: string;
  /** performance.now() after which the node can no longer vouch for its member lease. */
  readonly memberDeadline: number;
  membership: { get(node: string): { readonly incarnation: number } | undefined };
  monitorNode(node: string | undefined, watcher: (e: NodeEvent) => void): unknown;
  demonitorNode(ref: never): void;
  /** Told at once when the membership is lost (the deadline poll below is the backstop). */
  onMemberLeaseLost?(listener: (why: string) => void): () => void;
}

export interface HostedWorkersOptions {
  /** The host the workers bind (the agent node's listen host). */
  readonly listenHost: string;
  /** The host clients dial (the agent node's advertised host). */
  readonly advertiseHost: string;
  /** How long an owner's Watch may stay silent before its worker is killed (default: the member TTL). */
  readonly ownerGraceMs: number;
  /** Where relative tool paths and the Python lookup start (default process.cwd()). */
  readonly cwd?: string;
  /**
   * The agent node's certificate files: each worker serves mTLS with them (clients need a
   * certificate of the same CA) and dials the pool's HostService with them. Undefined: the workers
   * serve plain TCP, which the worker allows on loopback only (an insecure cluster on one machine).
   */
  readonly tls?: WorkerTls | undefined;
}

interface Hosted {
  readonly id: string;
  readonly owner: WorkerOwner;
  readonly wp: WorkerProcess;
  readonly watchers: Set<(e: WireExit) => void>;
  /** performance.now() of the last ping of any Watch of the owner (the launch counts as one). */
  lastSeen: number;
  killedWhy: string | undefined;
  /** Killed because this incarnation of the agent's node is over (lease lost, member key gone). */
  nodeGone: boolean;
}

/** How many exits are kept for Watches that arrive after the worker is gone. */
const RECENT_EXITS = 1000;

export class HostedWorkers {
  readonly #n: AgentNode;
  readonly #o: HostedWorkersOptions;
  readonly #workers = new Map<string, Hosted>();
  readonly #recent = new Map<string, WireExit>();
  readonly #cgroups = WorkerCgroups.open();
  readonly #sweep: NodeJS.Timeout;
  readonly #monitorRef: unknown;
  readonly #unLost: (() => void) | undefined;
  readonly #log = getLogger();
  #seq = 0;
  #launching = 0;
  #closed = false;

  constructor(node: AgentNode, o: HostedWorkersOptions) {
    this.#n = node;
    this.#o = o;
    this.#monitorRef = node.monitorNode(undefined, (e) => this.#onNodeEvent(e));
    this.#unLost = node.onMemberLeaseLost?.((why) =>
      this.killAll(
        `this agent lost its member lease (${why === 'deadline' ? 'past its keeper deadline' : 'etcd dropped it'})`,
        true,
      ),
    );
    // The lease deadline and the owners' silence are times, not events: check them often. A tenth of
    // the grace (at most 100 ms) keeps the kill within ~10% of the rule's bound.
    this.#sweep = setInterval(() => this.#check(), Math.min(100, Math.max(10, o.ownerGraceMs / 10)));
  }

  get size(): number {
    return this.#workers.size;
  }

  /** The hosted workers' pids and owners (for the status record and the tests). */
  list(): { id: string; pid: number; owner: WorkerOwner }[] {
    return [...this.#workers.values()].map((h) => ({ id: h.id, pid: h.wp.pid, owner: h.owner }));
  }

  #leaseLost(): boolean {
    return this.#n.state !== 'up' || performance.now() >= this.#n.memberDeadline;
  }

  /** Starts a worker for `req.owner`; resolves once it is ready (described). */
  async launch(raw: unknown): Promise<Exclude<LaunchRep, { e: unknown }>> {
    const req: LaunchReq = checkLaunchReq(this.#n.node, raw);
    const agent = this.#n.node;
    if (this.#closed) throw new AgentRefusedError(agent, 'it is stopping', 'launch on another agent node');
    if (this.#leaseLost())
      throw new AgentRefusedError(
        agent,
        'it lost its member lease (cut off from etcd)',
        'launch on another agent node; this one takes launches again once it is a member again',
        true,
      );
    const seen = this.#n.membership.get(req.owner.node);
    if (seen !== undefined && seen.incarnation > req.owner.incarnation)
      throw new AgentRefusedError(
        agent,
        `the owner node "${req.owner.node}" incarnation ${req.owner.incarnation} is gone (it is now ${seen.incarnation})`,
        'launch from the current incarnation',
      );
    const l = req.launch;
    const cwd = this.#o.cwd ?? process.cwd();
    const env = { ...process.env, ...l.env };
    const id = `${req.owner.node}.${req.owner.incarnation}.${l.pool}.${l.slot}.${++this.#seq}`;
    this.#launching++;
    let wp: WorkerProcess;
    try {
      wp = await WorkerProcess.launch({
        python: resolvePython(l.python, env, cwd),
        tools: l.tools,
        listen: `${this.#o.listenHost}:0`,
        tls: this.#o.tls,
        socketPath: undefined,
        concurrency: l.concurrency,
        maxMessageBytes: l.maxMessageBytes,
        // The lane and shared memory are this machine's only: a remote worker takes gRPC calls.
        lane: false,
        graceMs: l.graceMs,
        startTimeoutMs: l.startTimeoutMs,
        cwd,
        env,
        secret: l.secret,
        cgroup: this.#cgroups?.create(),
        tag: newWorkerTag(),
        maxRssMb: l.maxRssMb,
        name: `${l.pool}/worker-${l.slot}@${req.owner.node}`,
        stderrTailBytes: BRIDGE_DEFAULTS.stderrTailBytes,
        maxStderrLineBytes: BRIDGE_DEFAULTS.maxStderrLineBytes,
        maxReadyLineBytes: BRIDGE_DEFAULTS.maxReadyLineBytes,
        onStderr: (line, pid) =>
          this.#log.info({ event: 'worker_stderr', agent, worker: id, pid }, line.slice(0, 2000)),
        hostAddress: l.hostAddress,
        clock: systemClock,
      });
    } finally {
      this.#launching--;
    }
    // The rules may have fired while it started (lease lost, owner down, agent stopping).
    const h: Hosted = {
      id,
      owner: req.owner,
      wp,
      watchers: new Set(),
      lastSeen: performance.now(),
      killedWhy: undefined,
      nodeGone: false,
    };
    this.#workers.set(id, h);
    wp.onExit((exit) => this.#exited(h, exit));
    if (this.#closed || this.#leaseLost())
      this.#kill(h, 'the agent stopped or lost its lease during the start');
    this.#log.info(
      { event: 'worker_hosted', agent, worker: id, pid: wp.pid, owner: req.owner, address: wp.address },
      'hosted worker started',
    );
    const port = wp.address.slice(wp.address.lastIndexOf(':') + 1);
    return {
      workerId: id,
      pid: wp.pid,
      address: `${this.#o.advertiseHost}:${port}`,
      tls: this.#o.tls !== undefined,
      startMs: wp.startMs,
      info: wp.info,
      ownerGraceMs: this.#o.ownerGraceMs,
    };
  }

  #exited(h: Hosted, exit: WorkerExit): void {
    const e: WireExit = {
      pid: exit.pid,
      exitCode: exit.exitCode,
      signal: exit.signal,
      stderrTail: exit.stderrTail?.slice(-4000),
      ...(h.nodeGone ? { nodeGone: true } : {}),
    };
    this.#workers.delete(h.id);
    this.#recent.set(h.id, e);
    if (this.#recent.size > RECENT_EXITS) this.#recent.delete(this.#recent.keys().next().value as string);
    this.#log.info(
      { event: 'worker_exit', agent: this.#n.node, worker: h.id, why: h.killedWhy, ...e },
      'hosted worker exited',
    );
    for (const w of [...h.watchers]) w(e);
    h.watchers.clear();
    void h.wp.exited.then(() => h.wp.close());
  }

  /**
   * Follows a worker for its owner: `onExit` once when it exits. Returns the function that ends
   * the watch and the one its pings call, the exit if it already exited, or throws
   * ERR_AGENT_NO_WORKER.
   */
  watch(
    id: string,
    onExit: (e: WireExit) => void,
  ): { readonly exit: WireExit } | { readonly ping: () => void; readonly end: () => void } {
    const h = this.#workers.get(id);
    if (h === undefined) {
      const exit = this.#recent.get(id);
      if (exit !== undefined) return { exit };
      throw new AgentNoWorkerError(this.#n.node, id);
    }
    h.watchers.add(onExit);
    h.lastSeen = performance.now();
    return {
      ping: () => {
        h.lastSeen = performance.now();
      },
      end: () => {
        h.watchers.delete(onExit);
      },
    };
  }

  #get(id: string): Hosted {
    const h = this.#workers.get(id);
    if (h === undefined) throw new AgentNoWorkerError(this.#n.node, id);
    return h;
  }

  /** SIGTERM, SIGKILL after killAfterMs; resolves with the exit (also of a worker already gone). */
  async stop(id: string, killAfterMs: number): Promise<WireExit> {
    const recent = this.#recent.get(id);
    if (recent !== undefined) return recent;
    const h = this.#get(id);
    h.killedWhy ??= 'stopped by its owner';
    await h.wp.stop(Math.max(0, Math.min(killAfterMs, 600_000)));
    return this.#recent.get(id) ?? { pid: h.wp.pid, exitCode: null, signal: 'SIGKILL' };
  }

  kill(id: string): void {
    if (this.#recent.has(id)) return;
    this.#kill(this.#get(id), 'killed by its owner');
  }

  #kill(h: Hosted, why: string, nodeGone = false): void {
    if (h.wp.exit !== undefined) return;
    if (h.killedWhy === undefined) {
      h.killedWhy = why;
      h.nodeGone = nodeGone;
      this.#log.warn(
        { event: 'worker_killed', agent: this.#n.node, worker: h.id, pid: h.wp.pid, owner: h.owner, why },
        `hosted worker killed: ${why}`,
      );
    }
    h.wp.kill();
  }

  /**
   * Kills every hosted worker at once. `nodeGone`: because this incarnation of the node is over
   * (lease lost, member key gone); their owners then count them lost with the node.
   */
  killAll(why: string, nodeGone = false): void {
    for (const h of [...this.#workers.values()]) this.#kill(h, why, nodeGone);
  }

  #onNodeEvent(e: NodeEvent): void {
    if (e.type !== 'nodedown') return;
    if (e.node === this.#n.node) {
      this.killAll(`this agent's member key (incarnation ${e.incarnation}) is gone`, true);
      return;
    }
    for (const h of [...this.#workers.values()])
      if (h.owner.node === e.node && h.owner.incarnation === e.incarnation)
        this.#kill(h, `its owner node "${e.node}" (incarnation ${e.incarnation}) went down`);
  }

  #check(): void {
    if (this.#workers.size === 0) return;
    if (this.#n.state !== 'stopped' && this.#leaseLost()) {
      this.killAll('this agent lost its member lease (past its keeper deadline)', true);
      return;
    }
    const now = performance.now();
    for (const h of [...this.#workers.values()]) {
      const seen = this.#n.membership.get(h.owner.node);
      if (seen !== undefined && seen.incarnation > h.owner.incarnation)
        this.#kill(h, `its owner node "${h.owner.node}" restarted as incarnation ${seen.incarnation}`);
      else if (now - h.lastSeen > this.#o.ownerGraceMs)
        this.#kill(
          h,
          `its owner "${h.owner.node}" has not watched it for ${Math.round(now - h.lastSeen)} ms (ownerGraceMs ${this.#o.ownerGraceMs})`,
        );
    }
  }

  /** Stops every hosted worker (SIGTERM, SIGKILL after graceMs) and waits until they are gone. */
  async close(graceMs = 2000): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#n.demonitorNode(this.#monitorRef as never);
    this.#unLost?.();
    await Promise.all(
      [...this.#workers.values()].map((h) => {
        h.killedWhy ??= 'the agent is stopping';
        return h.wp.stop(graceMs).catch(() => {});
      }),
    );
    // A launch still starting is killed by the check after its start (the set is closed).
    const until = Date.now() + 30_000;
    while (this.#launching > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.#workers.values()].map((h) => h.wp.exited));
    this.#cgroups?.close();
  }
}
