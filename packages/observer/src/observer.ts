/**
 * `startObserver`: the live view of one supervision tree, served on 127.0.0.1.
 *
 * Data flow: supervisor events (this thread's event bus) and source notifications mark the model
 * dirty; a coalesced run (at most one per `coalesceMs`) walks the tree, reads the pluggable sources
 * and, if anything changed, pushes the snapshot to every page over SSE. A poll every `pollMs` catches
 * what sends no notification (registry, pools, supervisors in other threads).
 */
import type { Server, ServerResponse } from 'node:http';
import { currentNode, eventBus, type SupervisorEvent, type TimerHandle } from '@trellis/core';
import { listAnnounced, removeAnnounce, writeAnnounce } from './announce.js';
import { checkKill, checkRestart, checkStatus, kill, restart, status } from './control.js';
import { OBSERVER_DEFAULTS } from './defaults.js';
import { ObserverListenError } from './errors.js';
import { EventLog } from './event-log.js';
import { createObserverServer } from './http-server.js';
import { type LogQuery, type LogRecordView, LogTail } from './log-tail.js';
import { MetricsEndpoint } from './metrics-endpoint.js';
import { type Normalized, normalizeObserverOptions, type ObserverOptions } from './observer-options.js';
import { PoolHistory, type WorkerRow } from './pool-view.js';
import {
  type AnnouncedObserver,
  type NodeHealth,
  SNAPSHOT_VERSION,
  type Snapshot,
  type TreeNodeView,
} from './snapshot.js';
import { HealthJoin, read, readPool, readRegistry } from './source-reads.js';
import type { RegistryProcessView, Watchable } from './sources.js';
import { generateToken } from './token.js';
import { TreeModel } from './tree-model.js';

export { normalizeObserverOptions, type ObserverOptions } from './observer-options.js';

export interface ObserverHandle {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  /** The control token (also printed at start-up). */
  readonly token: string;
  /** The latest snapshot (undefined before the first walk finished). */
  snapshot(): Snapshot | undefined;
  /** Walks the tree and reads the sources now; resolves with the resulting snapshot. */
  refresh(): Promise<Snapshot>;
  /** Stops serving: ends every page stream, closes the server, removes the announce file. */
  close(): Promise<void>;
}

/** Starts the observer; resolves once it listens (it does not wait for the first walk of the tree). */
export async function startObserver(options: ObserverOptions = {}): Promise<ObserverHandle> {
  const o = normalizeObserverOptions(options);
  const obs = new Observer(o);
  await obs.listen();
  return obs.handle();
}

class Observer {
  readonly #o: Normalized;
  readonly #model: TreeModel | undefined;
  readonly #events = new EventLog(OBSERVER_DEFAULTS.eventLogSize, OBSERVER_DEFAULTS.pendingEventsSize);
  readonly #clients = new Set<ServerResponse>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #startedAt = Date.now();
  #server: Server | undefined;
  #port = 0;
  #snapshot: Snapshot | undefined;
  #snapshotKey = '';
  #sentSeq = 0;
  #knownSupervisors = 0;
  #dirty = false;
  #running = false;
  #lastRunAt = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined;
  #pollTimer: TimerHandle | undefined;
  #keepAlive: TimerHandle | undefined;
  #waiters: ((s: Snapshot) => void)[] = [];
  #announceFile: string | undefined;
  #userAnnounceFile: string | undefined;
  #closed: Promise<void> | undefined;
  /** Per pool: CPU samples and the charts' history. */
  readonly #history = new Map<string, PoolHistory>();
  readonly #logs = new LogTail(OBSERVER_DEFAULTS.logTailSize);
  #metrics: MetricsEndpoint | undefined;
  /**
   * Grants reading the logs (not control). Written only into the announce files (mode 0600, in
   * directories of this user), so `trellis logs` run by the same user can read them and nobody
   * else can; the control token grants reading too.
   */
  readonly #readToken = generateToken(OBSERVER_DEFAULTS.tokenBytes);

  constructor(o: Normalized) {
    this.#o = o;
    this.#model = o.root === undefined ? undefined : new TreeModel(o.root);
  }

  get url(): string {
    return `http://${OBSERVER_DEFAULTS.host}:${this.#port}/`;
  }

  async listen(): Promise<void> {
    const o = this.#o;
    const server = createObserverServer(
      {
        token: o.token,
        snapshotJson: (n) => this.#snapshotJson(n),
        attach: (res) => this.#attach(res),
        kill: (body) => this.#kill(body),
        restart: (body) => this.#restart(body),
        status: (body) => this.#status(body),
        readToken: this.#readToken,
        logs: (q) => this.#logsJson(q),
        metrics: (req, res) => {
          if (this.#metrics === undefined) return false;
          this.#metrics.handle(req, res);
          return true;
        },
      },
      () => this.#port,
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new ObserverListenError(o.port, e)));
      server.listen(o.port, OBSERVER_DEFAULTS.host, () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as { port: number }).port;
    if (o.metrics !== false) this.#metrics = new MetricsEndpoint(o.metrics);
    for (const [name, p] of o.pools) {
      if (typeof p.onLog !== 'function') continue;
      try {
        this.#unsubscribe.push(p.onLog((r) => this.#logs.add(name, r)));
      } catch (e) {
        o.log(`trellis observer: pool ${name} refused a log listener: ${(e as Error).message}`);
      }
    }
    if (this.#model !== undefined)
      this.#unsubscribe.push(eventBus(currentNode()).on((e) => this.#onEvent(e)));
    for (const s of [o.registry, o.health, o.leases, o.cluster] as (Watchable | undefined)[]) {
      const off = s?.subscribe?.(() => this.markDirty());
      if (off) this.#unsubscribe.push(off);
    }
    if (o.announce !== undefined) {
      try {
        this.#announceFile = writeAnnounce(o.announce, this.#announced(), this.#port, this.#readToken);
      } catch (e) {
        o.log(
          `trellis observer: could not write the announce file in ${o.announce}: ${(e as Error).message}`,
        );
      }
    }
    if (o.userAnnounce !== undefined) {
      // Also in this user's runtime directory: `trellis status` finds it from any directory.
      try {
        this.#userAnnounceFile = writeAnnounce(
          o.userAnnounce,
          this.#announced(),
          this.#port,
          this.#readToken,
        );
      } catch (e) {
        o.log(`trellis observer: could not announce itself in ${o.userAnnounce}: ${(e as Error).message}`);
      }
    }
    o.log(`trellis observer: ${this.url}`);
    o.log(`trellis observer: control token ${o.token}  (or open ${this.url}#token=${o.token})`);
    this.#schedulePoll();
    this.#keepAlive = o.clock.setTimeout(() => this.#ping(), OBSERVER_DEFAULTS.keepAliveMs);
    this.markDirty();
  }

  handle(): ObserverHandle {
    return {
      url: this.url,
      port: this.#port,
      token: this.#o.token,
      snapshot: () => this.#snapshot,
      refresh: () => this.#refresh(),
      close: () => this.close(),
    };
  }

  #announced(): AnnouncedObserver {
    return {
      url: this.url,
      pid: process.pid,
      root: this.#model?.rootPid ?? (typeof this.#o.root === 'string' ? this.#o.root : null),
      startedAt: this.#startedAt,
    };
  }

  // ---- change tracking and coalescing ------------------------------------------------------------

  #onEvent(e: SupervisorEvent): void {
    const model = this.#model!;
    // Every supervisor of this thread (a sub-supervisor's start comes before the walk knows it).
    model.onEvent(e);
    const logged = this.#events.add(e, model.isKnown);
    // onEvent may have just learnt a new sub-supervisor: its children's earlier events now belong.
    const promoted = this.#promote();
    if (logged || promoted > 0) this.markDirty();
  }

  /** Logs held-back events, only when the set of known supervisors grew (the scan is not free). */
  #promote(): number {
    const model = this.#model;
    if (model === undefined || model.additions === this.#knownSupervisors) return 0;
    this.#knownSupervisors = model.additions;
    return this.#events.promote(model.isKnown);
  }

  markDirty(): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#timer !== undefined || this.#running) return;
    const wait = Math.max(0, this.#lastRunAt + this.#o.coalesceMs - this.#o.clock.now());
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, wait);
  }

  #refresh(): Promise<Snapshot> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.markDirty();
    });
  }

  #schedulePoll(): void {
    this.#pollTimer = this.#o.clock.setTimeout(() => {
      this.markDirty();
      this.#schedulePoll();
    }, this.#o.pollMs);
  }

  async #run(): Promise<void> {
    if (this.#closed) return;
    this.#dirty = false;
    this.#running = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    try {
      const snap = await this.#build();
      if (this.#closed) return;
      this.#snapshot = snap;
      const key = JSON.stringify({ ...snap, at: 0 });
      if (key !== this.#snapshotKey) {
        this.#snapshotKey = key;
        this.#broadcast('snapshot', JSON.stringify(snap));
      }
      const fresh = this.#events.since(this.#sentSeq);
      if (fresh.length > 0) {
        this.#sentSeq = fresh[fresh.length - 1]!.seq;
        this.#broadcast('events', JSON.stringify(fresh));
      }
      for (const w of waiters) w(snap);
    } catch (e) {
      // #build never rejects by design; anything here is a bug, reported without stopping the observer.
      this.#o.log(`trellis observer: refresh failed: ${(e as Error)?.stack ?? String(e)}`);
      // The waiters get the next run's snapshot (the next event or poll).
      this.#waiters.push(...waiters);
    } finally {
      this.#running = false;
      this.#lastRunAt = this.#o.clock.now();
      if (this.#dirty) this.markDirty();
    }
  }

  async #build(): Promise<Snapshot> {
    const o = this.#o;
    const [health, registry, pools, leases, cluster] = await Promise.all([
      o.health ? read(() => o.health!.records(), o) : undefined,
      o.registry ? readRegistry(o.registry, o) : undefined,
      o.pools.length > 0
        ? Promise.all(o.pools.map(([name, p]) => readPool(name, p, o, this.#poolHistory(name))))
        : undefined,
      o.leases ? read(() => o.leases!.leases(), o) : undefined,
      o.cluster ? read(() => o.cluster!.nodes(), o) : undefined,
    ]);
    const join = new HealthJoin(health?.items ?? []);
    // Python workers by their actor's pid: the tree names them and shows their heartbeats without
    // any health monitor wired (the pool's own heartbeats say as much).
    const workers = new Map<string, { pool: string; row: WorkerRow }>();
    for (const p of pools ?? [])
      for (const row of p.tool?.workers ?? [])
        if (row.actorPid) workers.set(row.actorPid, { pool: p.name, row });
    const walked =
      this.#model === undefined
        ? null
        : await this.#model.walk({
            callTimeoutMs: o.callTimeoutMs,
            maxDepth: OBSERVER_DEFAULTS.maxDepth,
            maxChildren: OBSERVER_DEFAULTS.maxChildrenPerSupervisor,
            health: (pid, id, sup) => join.lookup(pid, id, sup) ?? workerHealth(pid, workers),
            self: o.self,
          });
    const tree = walked === null || workers.size === 0 ? walked : labelWorkers(walked, workers);
    this.#promote();
    return {
      version: SNAPSHOT_VERSION,
      at: Date.now(),
      title: o.title,
      observer: {
        url: this.url,
        pid: process.pid,
        root: this.#model?.rootPid ?? null,
        startedAt: this.#startedAt,
      },
      tree,
      registry: registry ? { ...registry, items: registry.items.map(stripCommand) } : null,
      pools: pools ?? null,
      leases: leases
        ? { items: [...leases.items].sort((a, b) => a.name.localeCompare(b.name)), error: leases.error }
        : null,
      cluster: cluster
        ? { items: [...cluster.items].sort((a, b) => a.node.localeCompare(b.node)), error: cluster.error }
        : null,
      health: health ? { items: join.unmatched(), error: health.error } : null,
      announced: o.listAnnounced
        ? listAnnounced(o.listAnnounced).filter((a) => a.url !== this.url)
        : undefined,
      lastEventSeq: this.#events.lastSeq,
    };
  }

  // ---- HTTP --------------------------------------------------------------------------------------

  #poolHistory(name: string): PoolHistory {
    let h = this.#history.get(name);
    if (h === undefined) {
      h = new PoolHistory(OBSERVER_DEFAULTS.chartSamples, Math.min(1000, this.#o.pollMs));
      this.#history.set(name, h);
    }
    return h;
  }

  #logsJson(q: LogQuery): string {
    const records: LogRecordView[] = this.#logs.query(q);
    return JSON.stringify({ lastSeq: this.#logs.lastSeq, records });
  }

  #snapshotJson(events: number): string | undefined {
    if (this.#snapshot === undefined) return undefined;
    return JSON.stringify({ ...this.#snapshot, events: this.#events.last(events) });
  }

  #attach(res: ServerResponse): boolean {
    if (this.#closed || this.#clients.size >= OBSERVER_DEFAULTS.maxClients) return false;
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
    if (this.#snapshot !== undefined) {
      send(res, 'snapshot', JSON.stringify(this.#snapshot));
      const all = this.#events.last(OBSERVER_DEFAULTS.eventLogSize);
      if (all.length > 0) send(res, 'events', JSON.stringify(all));
    }
    return true;
  }

  #broadcast(event: string, data: string): void {
    for (const res of this.#clients) send(res, event, data);
  }

  #ping(): void {
    for (const res of this.#clients) res.write(': keep-alive\n\n');
    this.#keepAlive = this.#o.clock.setTimeout(() => this.#ping(), OBSERVER_DEFAULTS.keepAliveMs);
  }

  async #status(body: Record<string, unknown>): Promise<unknown> {
    const tree = await this.#currentTree((t) => checkStatus(t, body.pid));
    const node = checkStatus(tree, body.pid);
    return { status: await status(node.pid!, 2000) };
  }

  async #kill(body: Record<string, unknown>): Promise<unknown> {
    const tree = await this.#currentTree((t) => checkKill(t, body.pid));
    const node = checkKill(tree, body.pid);
    kill(node.pid!);
    this.markDirty();
    return { killed: node.pid, id: node.id, supervisor: node.supervisor };
  }

  async #restart(body: Record<string, unknown>): Promise<unknown> {
    const tree = await this.#currentTree((t) => checkRestart(t, body.supervisor, body.id));
    const node = checkRestart(tree, body.supervisor, body.id);
    const pid = await restart(node.supervisor!, node.id!, this.#o.controlTimeoutMs);
    this.markDirty();
    return { restarted: node.id, supervisor: node.supervisor, pid };
  }

  /** The latest tree if the request checks out against it, else a freshly walked one. */
  async #currentTree(check: (t: Snapshot['tree']) => unknown): Promise<Snapshot['tree']> {
    if (this.#model === undefined) return null;
    const latest = this.#snapshot?.tree ?? null;
    try {
      check(latest);
      return latest;
    } catch {
      return (await this.#refresh()).tree;
    }
  }

  // ---- shutdown ------------------------------------------------------------------------------------

  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = (async () => {
      const clock = this.#o.clock;
      for (const t of [this.#timer, this.#pollTimer, this.#keepAlive])
        if (t !== undefined) clock.clearTimeout(t);
      for (const off of this.#unsubscribe.splice(0)) off();
      if (this.#announceFile) removeAnnounce(this.#announceFile);
      if (this.#userAnnounceFile) removeAnnounce(this.#userAnnounceFile);
      for (const res of this.#clients) res.end();
      this.#clients.clear();
      const server = this.#server;
      if (server) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      }
      await this.#metrics?.close();
    })();
    return this.#closed;
  }
}

function send(res: ServerResponse, event: string, data: string): void {
  res.write(`event: ${event}\ndata: ${data}\n\n`);
}

/** A Python worker's heartbeat, from its pool's own stats (when no health monitor knows it). */
function workerHealth(
  pid: string | null,
  workers: ReadonlyMap<string, { pool: string; row: WorkerRow }>,
): NodeHealth | undefined {
  const w = pid === null ? undefined : workers.get(pid)?.row;
  if (w === undefined || w.lastHeartbeatAt === null) return undefined;
  return { state: w.state === 'ready' ? 'active' : w.state, lastHeartbeatAt: w.lastHeartbeatAt };
}

/** Names the tree's Python worker nodes (`<pool> worker <slot>`) and gives their OS pid. */
function labelWorkers(
  n: TreeNodeView,
  workers: ReadonlyMap<string, { pool: string; row: WorkerRow }>,
): TreeNodeView {
  const w = n.pid === null ? undefined : workers.get(n.pid);
  const children = n.children?.map((c) => labelWorkers(c, workers));
  if (w === undefined) return children === undefined ? n : { ...n, children };
  return { ...n, label: `${w.pool} worker ${w.row.slot}`, osPid: w.row.pid, children };
}

/**
 * The snapshot is readable without the token, by anyone who can reach 127.0.0.1: it carries no
 * command line (arguments may hold secrets) and no environment, only the program's name.
 */
function stripCommand(p: RegistryProcessView): RegistryProcessView {
  const program = p.command.split('/').pop() ?? p.command;
  return { ...p, command: program, args: undefined };
}
