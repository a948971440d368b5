/**
 * A pool's node groups (issue 15): with `placement`, the pool has `perNode` slots on each live node
 * its PlacementProvider reports, and this object keeps it so.
 *
 *   - a node appears (watchNodes) → `perNode` new slots, their workers launched on it all at once
 *     (as the Launcher does for a local pool), then added to the pool supervisor one by one;
 *   - a node goes away → its slots are terminated (`terminateChild`): removed, not restarted, so the
 *     supervisor's restart intensity is not spent on a node's death;
 *   - a slot's worker is lost with its node (its exit carries `node`, or a launch there failed with
 *     ERR_NODE_DOWN/ERR_NODE_UNREACHABLE) → the worker stops with a `shutdown` reason (the children
 *     are transient, so it is not restarted) and the slot leaves its group (`slotLost`);
 *   - a node that comes back is a new incarnation, so a new group: the pool grows back.
 * A group short of `perNode` (a launch failed on a node still listed live) is topped up by a later
 * pass, one heartbeat interval on, bounded by the pool's clock rather than a loop.
 *
 * Passes run one at a time (a promise chain): the supervisor starts its children one after another
 * anyway, and two passes interleaving could both add the same node's slots.
 */
import {
  type Clock,
  getLogger,
  IGNORE,
  type Pid,
  startChild,
  type TimerHandle,
  terminateChild,
} from '@trellis/core';
import { isNodeLoss, PoolClosedError } from '../errors.js';
import type { WorkerHandle } from '../worker/worker-handle.js';
import type { PlacementNode, PlacementOptions, PlacementProvider, RemoteLaunch } from './placement.js';

/** What the node groups need of their pool. */
export interface NodeGroupsHost {
  readonly name: string;
  readonly clock: Clock;
  readonly retryMs: number;
  /** The RemoteLaunch of a slot (the pool's decisions about its worker). */
  remoteLaunch(slot: number): RemoteLaunch;
  /** The precise error of a failed start of a slot's worker (startChild's rejection wraps it). */
  startError(rejection: unknown): unknown;
}

interface Group {
  readonly node: PlacementNode;
  readonly slots: Set<number>;
}

/** `node#incarnation`: a node that rejoins is a new incarnation, so a new group. */
function keyOf(n: PlacementNode): string {
  return `${n.node}#${n.incarnation}`;
}

export class NodeGroups {
  readonly provider: PlacementProvider;
  readonly #o: PlacementOptions;
  readonly #host: NodeGroupsHost;
  readonly #groups = new Map<string, Group>();
  readonly #slotNode = new Map<number, PlacementNode>();
  /** The PythonWorker actor of each slot (set when it is up; a restart replaces it). */
  readonly #slotPid = new Map<number, Pid>();
  /** Launches started ahead of the slot's actor (adopted by its init). */
  readonly #pending = new Map<number, Promise<WorkerHandle>>();
  #live: readonly PlacementNode[] = [];
  #sup: Pid | undefined;
  #unwatch: (() => void) | undefined;
  #chain: Promise<void> = Promise.resolve();
  #retry: TimerHandle | undefined;
  #nextSlot = 0;
  #stopped = false;
  /** While the pool starts: the first start failure that is not a node's loss (it fails the start). */
  #startError: unknown;
  #starting = false;

  constructor(host: NodeGroupsHost, o: PlacementOptions, provider: PlacementProvider) {
    this.#host = host;
    this.#o = o;
    this.provider = provider;
  }

  /**
   * Subscribes to the provider's nodes and starts the slots of the nodes live now; resolves when
   * they are up. A start failure other than a node's loss (a broken Python on an agent, a refused
   * certificate) fails it, as one fails a local pool's start.
   */
  async start(sup: Pid): Promise<void> {
    this.#sup = sup;
    this.#starting = true;
    this.#unwatch = this.provider.watchNodes(this.#o.nodes, (live) => {
      this.#live = [...live];
      this.#schedule();
    });
    await this.#chain;
    this.#starting = false;
    const e = this.#startError;
    this.#startError = undefined;
    if (e !== undefined) throw e;
    if (this.#live.length === 0)
      getLogger().warn(
        { pool: this.#host.name, nodes: this.#o.nodes },
        'pool started with placement but no node is live: it has no workers, and calls wait in its queue until an agent node joins',
      );
  }

  /** Unsubscribes and kills the launches no slot adopted; the supervisor stops the slots themselves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (this.#retry !== undefined) this.#host.clock.clearTimeout(this.#retry);
    this.#retry = undefined;
    const left = [...this.#pending.values()];
    this.#pending.clear();
    await Promise.all(left.map((p) => p.then(discardHandle, () => {})));
  }

  /** perNode × live nodes. */
  get size(): number {
    let n = 0;
    for (const k of this.#liveKeys()) if (this.#groups.has(k)) n += this.#o.perNode;
    return n;
  }

  /** The live nodes and the slots each has now. */
  groups(): { readonly node: PlacementNode; readonly slots: readonly number[] }[] {
    return [...this.#groups.values()].map((g) => ({ node: g.node, slots: [...g.slots] }));
  }

  /** The node of a slot; undefined: not a slot of this pool (any more). */
  nodeOf(slot: number): PlacementNode | undefined {
    return this.#slotNode.get(slot);
  }

  /** The slot's pre-launched worker, or a new launch on its node. */
  acquire(slot: number): Promise<WorkerHandle> {
    const p = this.#pending.get(slot);
    if (p !== undefined) {
      this.#pending.delete(slot);
      return p;
    }
    return this.launch(slot);
  }

  /** A new worker for the slot on its node (a restart's, or a recycle's replacement). */
  launch(slot: number): Promise<WorkerHandle> {
    const node = this.#slotNode.get(slot);
    if (node === undefined || this.#stopped)
      return Promise.reject(
        new PoolClosedError(this.#host.name, `slot ${slot} was removed with its node, or the pool stopped`),
      );
    return this.provider.launch(node, this.#host.remoteLaunch(slot));
  }

  /** The slot's actor is up (recorded so that the slot can be terminated with its node). */
  started(slot: number, pid: Pid): void {
    if (this.#slotNode.has(slot)) {
      this.#slotPid.set(slot, pid);
      return;
    }
    // Its group was removed while it (re)started (its node went away meanwhile, yet the launch
    // got through): it must not stay as a worker of no group. The supervisor handles the request
    // once this start returns.
    const sup = this.#sup;
    if (sup !== undefined) terminateChild(sup, pid).catch(() => {});
  }

  /**
   * The slot's worker was lost with its node (or its launch failed for that reason): it leaves its
   * group and is not restarted. Always true: every slot of a placement pool is a node group's, and
   * one whose group was already removed (the node's loss was handled first, as when a restart's
   * launch fails on a node that went down meanwhile) must not be restarted either.
   */
  slotLost(slot: number): true {
    if (this.#slotNode.has(slot)) {
      this.#drop(slot);
      // Its node may still be listed live (the membership lags the worker's exit): top it up later.
      this.#scheduleRetry();
    }
    return true;
  }

  #drop(slot: number): void {
    const node = this.#slotNode.get(slot);
    if (node !== undefined) this.#groups.get(keyOf(node))?.slots.delete(slot);
    this.#slotNode.delete(slot);
    this.#slotPid.delete(slot);
    const p = this.#pending.get(slot);
    this.#pending.delete(slot);
    void p?.then(discardHandle, () => {});
  }

  #liveKeys(): Set<string> {
    return new Set(this.#live.map(keyOf));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#chain = this.#chain
      .then(() => this.#pass())
      .catch((e) => {
        getLogger().error({ pool: this.#host.name, err: e }, 'placement pass failed');
      });
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry !== undefined) return;
    this.#retry = this.#host.clock.setTimeout(() => {
      this.#retry = undefined;
      this.#schedule();
    }, this.#host.retryMs);
    (this.#retry as { unref?: () => void }).unref?.();
  }

  /** One reconciliation: remove the groups of nodes gone, fill the live nodes' groups to perNode. */
  async #pass(): Promise<void> {
    const sup = this.#sup;
    if (sup === undefined || this.#stopped) return;
    const live = this.#liveKeys();
    for (const [key, g] of this.#groups) {
      if (live.has(key)) continue;
      this.#groups.delete(key);
      for (const slot of g.slots) {
        const pid = this.#slotPid.get(slot);
        this.#drop(slot);
        if (pid !== undefined) {
          try {
            await terminateChild(sup, pid);
          } catch {
            // Already gone (its worker stopped with the node, or the supervisor is shutting down).
          }
        }
      }
    }
    const added: number[] = [];
    for (const node of this.#live) {
      const key = keyOf(node);
      let g = this.#groups.get(key);
      if (g === undefined) {
        g = { node, slots: new Set() };
        this.#groups.set(key, g);
      }
      for (let i = g.slots.size; i < this.#o.perNode; i++) {
        const slot = this.#nextSlot++;
        g.slots.add(slot);
        this.#slotNode.set(slot, node);
        // All of them at once: the supervisor's one-by-one starts then cost the slowest launch.
        const p = this.launch(slot);
        p.catch(() => {}); // consumed by acquire() or #drop()
        this.#pending.set(slot, p);
        added.push(slot);
      }
    }
    for (const slot of added) {
      if (this.#stopped || !this.#slotNode.has(slot)) continue;
      let r: Pid | typeof IGNORE;
      try {
        r = await startChild(sup, [slot]);
      } catch (e) {
        this.#drop(slot);
        if (this.#stopped) return;
        const err = this.#host.startError(e);
        if (this.#starting && !isNodeLoss(err) && this.#startError === undefined) this.#startError = err;
        // (The worker's init already reported it: a worker_start_failed event.)
        this.#scheduleRetry();
        continue;
      }
      // IGNORE: the worker's init found its node gone (slotLost already dropped the slot).
      if (r === IGNORE) this.#drop(slot);
    }
  }
}

function discardHandle(h: WorkerHandle): Promise<void> {
  h.kill();
  return h.exited.then(
    () => h.close(),
    () => h.close(),
  );
}
