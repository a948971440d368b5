/**
 * stats().nodes for a pool with `placement` (issue 15): per node (one incarnation of it), its
 * workers now and the calls its workers have run, those that have left included.
 *
 * Why a PoolWorker is kept a while after it left: a call that fails because its node went down
 * settles just *after* the dispatcher has let the worker go (its error is decided by the exit), and
 * only then counts on that PoolWorker. Summing the last few at stats time counts those calls; older
 * ones are folded into plain figures, so memory stays bounded.
 */
import type { PoolWorker } from './dispatcher.js';
import type { NodeStatsView, WorkerStatsView } from './stats.js';

/** Entries kept per node before the oldest is folded into figures. */
const RECENT = 16;
/** Node incarnations remembered (a long-lived pool sees many); the oldest are forgotten first. */
const NODES = 64;

interface Left {
  readonly node: string;
  readonly incarnation: number;
  calls: number;
  failed: number;
  readonly recent: PoolWorker[];
}

export class NodeTotals {
  readonly #left = new Map<string, Left>();

  /** A worker of a node left the pool (its process exited). */
  workerLeft(w: PoolWorker): void {
    const node = w.process.node;
    if (node === undefined) return;
    const key = `${node.node}#${node.incarnation}`;
    let t = this.#left.get(key);
    if (t === undefined) {
      t = { node: node.node, incarnation: node.incarnation, calls: 0, failed: 0, recent: [] };
      this.#left.set(key, t);
      if (this.#left.size > NODES) this.#left.delete(this.#left.keys().next().value!);
    }
    t.recent.push(w);
    if (t.recent.length > RECENT) {
      const old = t.recent.shift()!;
      t.calls += old.served + old.failed;
      t.failed += old.failed;
    }
  }

  /** The nodes' stats: those of `live` node groups, of `workers`, and of workers that have left. */
  stats(
    live: readonly { readonly node: string; readonly incarnation: number }[],
    workers: readonly WorkerStatsView[],
  ): NodeStatsView[] {
    type Mutable = { -readonly [K in keyof NodeStatsView]: NodeStatsView[K] };
    const out = new Map<string, Mutable>();
    const entry = (node: string, incarnation: number): Mutable => {
      const key = `${node}#${incarnation}`;
      let e = out.get(key);
      if (e === undefined) {
        const t = this.#left.get(key);
        e = {
          node,
          incarnation,
          live: false,
          workers: 0,
          inFlight: 0,
          calls: t?.calls ?? 0,
          failed: t?.failed ?? 0,
        };
        for (const w of t?.recent ?? []) {
          e.calls += w.served + w.failed;
          e.failed += w.failed;
        }
        out.set(key, e);
      }
      return e;
    };
    for (const t of this.#left.values()) entry(t.node, t.incarnation);
    for (const n of live) entry(n.node, n.incarnation).live = true;
    for (const w of workers) {
      if (w.node === undefined || w.incarnation === undefined) continue;
      const e = entry(w.node, w.incarnation);
      if (w.state !== 'gone') e.workers++;
      e.inFlight += w.inFlight;
      e.calls += w.served + w.failed;
      e.failed += w.failed;
    }
    return [...out.values()].sort((a, b) => a.node.localeCompare(b.node) || a.incarnation - b.incarnation);
  }
}
