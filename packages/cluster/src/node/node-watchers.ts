/**
 * `monitorNode` (OTP's monitor_node/2, with Akka's unreachable kept apart): the watchers of one node
 * or of every node, and the delivery of membership events to them, as messages to a pid or as
 * callbacks. A watcher's fault is its own: it never stops the delivery to the others.
 */
import type { Node, Pid, Ref } from '@trellis/core';
import type { NodeEvent } from './membership.js';

/** What `monitorNode` watchers receive (as messages to a pid, or as the callback's argument). */
export type NodeMonitorMessage = NodeEvent;
export type NodeWatcher = Pid | ((e: NodeEvent) => void);

export class NodeWatchers {
  readonly #local: Node;
  readonly #watchers = new Map<Ref, { node: string | undefined; watcher: NodeWatcher }>();

  constructor(local: Node) {
    this.#local = local;
  }

  add(node: string | undefined, watcher: NodeWatcher): Ref {
    const ref = this.#local.newRef();
    this.#watchers.set(ref, { node, watcher });
    return ref;
  }

  remove(ref: Ref): void {
    this.#watchers.delete(ref);
  }

  deliver(e: NodeEvent): void {
    for (const w of this.#watchers.values()) {
      if (w.node !== undefined && w.node !== e.node) continue;
      if (typeof w.watcher === 'function') {
        try {
          w.watcher(e);
        } catch {
          // a watcher's fault is its own
        }
      } else this.#local.send(w.watcher, e);
    }
  }
}
