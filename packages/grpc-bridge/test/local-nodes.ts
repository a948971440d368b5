/**
 * A PlacementProvider for the bridge's own placement tests: real Python workers, started on this
 * machine (loopback TCP, optionally mTLS) as if each ran on a named node. A node is brought up (a new
 * incarnation each time) and down by the test: `down` kills that node's workers (SIGKILL, as an
 * agent's death takes its workers) and reports their exits with `node`, then tells the watchers the
 * node is gone, in that order, as the cluster provider does on a nodedown.
 *
 * No mock: the pool's calls go over gRPC to real workers; only the membership is the test's.
 */
import { NodeDownError, systemClock, type TrellisError } from '@trellis/core';
import {
  BRIDGE_DEFAULTS,
  type HostListen,
  newWorkerTag,
  type PlacementNode,
  type PlacementProvider,
  type RemoteLaunch,
  resolvePython,
  type WorkerExit,
  type WorkerExitNode,
  type WorkerHandle,
  type WorkerLaunchOptions,
  WorkerProcess,
  type WorkerTls,
} from '../src/index.js';
import { REPO_ROOT } from './helpers.js';

/** A local WorkerProcess that answers as a worker on `node` (its exit carries `node` when lost with it). */
class NodeWorker implements WorkerHandle {
  readonly node: { readonly node: string; readonly incarnation: number };
  readonly #wp: WorkerProcess;
  #lost: WorkerExitNode | undefined;

  constructor(wp: WorkerProcess, node: PlacementNode) {
    this.#wp = wp;
    this.node = { node: node.node, incarnation: node.incarnation };
  }

  /** The node died under it: its process is killed and its exit says why. */
  lose(why: 'down' | 'unreachable'): void {
    this.#lost ??= { ...this.node, why };
    this.#wp.kill();
  }

  #map = (e: WorkerExit): WorkerExit => (this.#lost === undefined ? e : { ...e, node: this.#lost });

  get pid() {
    return this.#wp.pid;
  }
  get address() {
    return this.#wp.address;
  }
  get client() {
    return this.#wp.client;
  }
  get lane() {
    return this.#wp.lane;
  }
  get tools() {
    return this.#wp.tools;
  }
  get info() {
    return this.#wp.info;
  }
  get startMs() {
    return this.#wp.startMs;
  }
  get maxRssMb() {
    return this.#wp.maxRssMb;
  }
  set maxRssMb(v: number) {
    this.#wp.maxRssMb = v;
  }
  get exit() {
    const e = this.#wp.exit;
    return e === undefined ? undefined : this.#map(e);
  }
  get exited() {
    return this.#wp.exited.then(this.#map);
  }
  onExit(cb: (exit: WorkerExit) => void): void {
    this.#wp.onExit((e) => cb(this.#map(e)));
  }
  stderrTail(): string {
    return this.#wp.stderrTail();
  }
  get killedByHost() {
    return this.#wp.killedByHost;
  }
  get oomKillsAtStart() {
    return undefined; // another machine's kernel, as far as the pool knows
  }
  get killCause() {
    return this.#wp.killCause;
  }
  killFor(cause: TrellisError): void {
    this.#wp.killFor(cause);
  }
  kill(): void {
    this.#wp.kill();
  }
  stop(killAfterMs: number): Promise<WorkerExit> {
    return this.#wp.stop(killAfterMs).then(this.#map);
  }
  close(): void {
    this.#wp.close();
  }
  readRss(): number | undefined {
    return undefined; // a remote worker's RSS comes with its heartbeat
  }
  sampleRss(): number | undefined {
    return undefined;
  }
  readCpuSeconds(): number | undefined {
    return undefined;
  }
}

export interface LocalNodesOptions {
  readonly tls?: WorkerTls | undefined;
  readonly hostListen?: HostListen | undefined;
}

export class LocalNodes implements PlacementProvider {
  readonly #o: LocalNodesOptions;
  /** Live nodes: name -> incarnation. */
  readonly #live = new Map<string, number>();
  readonly #incarnations = new Map<string, number>();
  readonly #watchers = new Set<{
    nodes: 'cluster' | readonly string[];
    cb: (l: readonly PlacementNode[]) => void;
  }>();
  readonly #workers = new Set<NodeWorker>();
  /** Every launch asked of this provider (node, RemoteLaunch). */
  readonly launches: { node: PlacementNode; launch: RemoteLaunch }[] = [];

  constructor(o: LocalNodesOptions = {}) {
    this.#o = o;
  }

  /** Brings `name` up as a new incarnation and tells the watchers. */
  up(name: string): PlacementNode {
    const incarnation = (this.#incarnations.get(name) ?? 0) + 1;
    this.#incarnations.set(name, incarnation);
    this.#live.set(name, incarnation);
    this.#notify();
    return { node: name, incarnation };
  }

  /** The node dies: its workers are killed, their exits carry `node`; then the watchers are told. */
  async down(name: string, why: 'down' | 'unreachable' = 'down'): Promise<void> {
    const dying = [...this.#workers].filter((w) => w.node.node === name);
    this.#live.delete(name);
    for (const w of dying) w.lose(why);
    await Promise.all(dying.map((w) => w.exited));
    this.#notify();
  }

  /**
   * One worker of a node dies as its node is lost, before the others: the first of the node's exits
   * to arrive (they come one by one when a node dies). The node stays listed live.
   */
  async loseWorker(pid: number, why: 'down' | 'unreachable' = 'down'): Promise<void> {
    const w = [...this.#workers].find((x) => x.pid === pid);
    if (w === undefined) throw new Error(`no worker ${pid}`);
    w.lose(why);
    await w.exited;
  }

  /** Workers of `name` still alive (as the test sees them). */
  workersOn(name: string): number[] {
    return [...this.#workers].filter((w) => w.node.node === name && w.exit === undefined).map((w) => w.pid);
  }

  watchNodes(
    nodes: 'cluster' | readonly string[],
    onChange: (live: readonly PlacementNode[]) => void,
  ): () => void {
    const w = { nodes, cb: onChange };
    this.#watchers.add(w);
    onChange(this.#liveFor(nodes));
    return () => this.#watchers.delete(w);
  }

  async launch(node: PlacementNode, launch: RemoteLaunch): Promise<WorkerHandle> {
    this.launches.push({ node, launch });
    this.#check(node);
    const wp = await WorkerProcess.launch(launchOptions(launch, node, this.#o.tls));
    const h = new NodeWorker(wp, node);
    this.#workers.add(h);
    void wp.exited.then(() => this.#workers.delete(h));
    try {
      // It may have gone down while the worker started: the worker goes with it.
      this.#check(node);
    } catch (e) {
      h.lose('down');
      await h.exited;
      h.close();
      throw e;
    }
    return h;
  }

  hostListen(): HostListen | undefined {
    return this.#o.hostListen;
  }

  #check(node: PlacementNode): void {
    if (this.#live.get(node.node) !== node.incarnation)
      throw new NodeDownError(node.node, `launch on node "${node.node}"`, { incarnation: node.incarnation });
  }

  #liveFor(nodes: 'cluster' | readonly string[]): PlacementNode[] {
    return [...this.#live]
      .filter(([n]) => nodes === 'cluster' || nodes.includes(n))
      .map(([node, incarnation]) => ({ node, incarnation }));
  }

  #notify(): void {
    for (const w of this.#watchers) w.cb(this.#liveFor(w.nodes));
  }
}

/** The WorkerLaunchOptions of a RemoteLaunch on this machine, as an agent builds them (no lane). */
function launchOptions(
  l: RemoteLaunch,
  node: PlacementNode,
  tls: WorkerTls | undefined,
): WorkerLaunchOptions {
  return {
    python: resolvePython(l.python, process.env, REPO_ROOT),
    tools: l.tools,
    listen: '127.0.0.1:0',
    socketPath: undefined,
    tls,
    concurrency: l.concurrency,
    maxMessageBytes: l.maxMessageBytes,
    lane: false,
    graceMs: l.graceMs,
    startTimeoutMs: l.startTimeoutMs,
    cwd: REPO_ROOT,
    env: { ...process.env, ...l.env },
    secret: l.secret,
    tag: newWorkerTag(),
    maxRssMb: l.maxRssMb,
    name: `${l.pool}/${node.node}/worker-${l.slot}`,
    stderrTailBytes: BRIDGE_DEFAULTS.stderrTailBytes,
    maxStderrLineBytes: BRIDGE_DEFAULTS.maxStderrLineBytes,
    maxReadyLineBytes: BRIDGE_DEFAULTS.maxReadyLineBytes,
    onStderr: undefined,
    clock: systemClock,
    hostAddress: l.hostAddress,
  };
}
