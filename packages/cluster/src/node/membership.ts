/**
 * The membership view of one node: who is a member (from etcd's member keys, read once and then
 * followed by a prefix watch), and who is reachable (from this node's own probes).
 *
 * Down and unreachable are kept apart, as Akka does:
 *   - down: decided only by the store. The member key of that incarnation expired with its lease,
 *     or was deleted in a transaction. Every node sees the same DELETE in the same order.
 *   - unreachable: what this node's probes see. It says nothing about the node itself (it may be a
 *     partition between the two of them) and changes nothing: no monitor fires, no name goes.
 * A node that comes back after being declared down has a new member key, so a new incarnation (the
 * key's create_revision): the old incarnation never returns.
 */

export interface Member {
  readonly node: string;
  /** create_revision of its member key: a new one each time the node (re)joins. */
  readonly incarnation: number;
  /** gRPC address the other nodes dial. */
  readonly address: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  /** What the node offers besides being a node, e.g. 'agent' (it hosts Python workers for pools). */
  readonly roles?: readonly string[];
}

export type NodeEvent =
  | { readonly type: 'nodeup'; readonly node: string; readonly incarnation: number }
  | { readonly type: 'nodedown'; readonly node: string; readonly incarnation: number }
  | { readonly type: 'unreachable'; readonly node: string; readonly incarnation: number }
  | { readonly type: 'reachable'; readonly node: string; readonly incarnation: number };

export class Membership {
  readonly #members = new Map<string, Member>();
  readonly #unreachable = new Set<string>();
  readonly #emit: (e: NodeEvent) => void;

  constructor(emit: (e: NodeEvent) => void) {
    this.#emit = emit;
  }

  get(node: string): Member | undefined {
    return this.#members.get(node);
  }

  list(): Member[] {
    return [...this.#members.values()].sort((a, b) => a.node.localeCompare(b.node));
  }

  isUnreachable(node: string): boolean {
    return this.#unreachable.has(node);
  }

  /** A member key was put: a new incarnation is a nodeup (after a nodedown of an older one we missed). */
  put(m: Member): void {
    const old = this.#members.get(m.node);
    if (old !== undefined && old.incarnation === m.incarnation) {
      this.#members.set(m.node, m);
      return;
    }
    if (old !== undefined) this.delete(old.node, old.incarnation);
    this.#members.set(m.node, m);
    this.#emit({ type: 'nodeup', node: m.node, incarnation: m.incarnation });
  }

  /** A member key was deleted (expired or removed): that incarnation is down. */
  delete(node: string, incarnation: number): void {
    const old = this.#members.get(node);
    if (old === undefined || old.incarnation !== incarnation) return;
    this.#members.delete(node);
    this.#unreachable.delete(node);
    this.#emit({ type: 'nodedown', node, incarnation });
  }

  /** Replaces the whole view (after a fresh read), with the events of the difference. */
  reset(members: Member[]): void {
    const next = new Map(members.map((m) => [m.node, m]));
    for (const old of [...this.#members.values()]) {
      const n = next.get(old.node);
      if (n === undefined || n.incarnation !== old.incarnation) this.delete(old.node, old.incarnation);
    }
    for (const m of members) this.put(m);
  }

  /** A probe's outcome: only changes are events. */
  probed(node: string, ok: boolean): void {
    const m = this.#members.get(node);
    if (m === undefined) return;
    if (ok && this.#unreachable.delete(node))
      this.#emit({ type: 'reachable', node, incarnation: m.incarnation });
    else if (!ok && !this.#unreachable.has(node)) {
      this.#unreachable.add(node);
      this.#emit({ type: 'unreachable', node, incarnation: m.incarnation });
    }
  }
}
