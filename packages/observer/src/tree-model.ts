/**
 * The supervision tree, built server-side: walked with whichChildren from the root (recursively into
 * children of type supervisor), and timed with supervisor events (a child's start time is the `at` of
 * its child_started / child_restarted event, since whichChildren carries no times).
 *
 * Walks are snapshots, events are increments: an event marks the tree dirty, and the next (coalesced)
 * walk asks the supervisors again. That keeps one source of truth (the supervisors themselves), and
 * events of supervisors in other threads, which this thread's bus never sees, are caught by the
 * periodic walk.
 */
import { type ChildInfo, isPid, type Pid, type SupervisorEvent, whereis, whichChildren } from '@trellis/core';
import type { NodeHealth, NodeStatus, TreeNodeView } from './snapshot.js';

interface StartMark {
  readonly at: number;
  readonly exact: boolean;
}

export interface WalkOptions {
  readonly callTimeoutMs: number;
  readonly maxDepth: number;
  readonly maxChildren: number;
  /** Health of an actor by pid, then by id (see health joining in observer.ts). */
  readonly health: (
    pid: string | null,
    id: string | null,
    supervisor: string | null,
  ) => NodeHealth | undefined;
  /** The observer's own actor, marked so the page offers no control for it. */
  readonly self: string | undefined;
}

// Start marks of pids the walk has not found are dropped after this long (the event may precede
// the walk that finds the child), and the map is bounded whatever happens.
const MARK_TTL_MS = 60_000;
const MAX_MARKS = 20_000;

interface SubtreeResult {
  readonly status: NodeStatus;
  readonly children?: TreeNodeView[];
  readonly error?: string;
  readonly hidden?: number | undefined;
}

export class TreeModel {
  /** Supervisors of this tree (with when they were learnt): their events belong to the log. */
  readonly #supervisors = new Map<string, number>();
  /** Count of supervisors ever learnt: grows whenever held-back events may have become known. */
  additions = 0;
  readonly #marks = new Map<string, StartMark>();
  readonly #strategies = new Map<string, string>();
  /** Last children answered by each supervisor, shown (as unreachable) when it does not answer. */
  readonly #lastChildren = new Map<string, readonly TreeNodeView[]>();
  readonly #root: Pid | string;
  #resolvedRoot: string | undefined;

  constructor(root: Pid | string) {
    this.#root = root;
    if (isPid(root)) {
      this.#resolvedRoot = root;
      this.#learn(root);
    }
  }

  get rootPid(): string | undefined {
    return this.#resolvedRoot;
  }

  isKnown = (sup: string): boolean => this.#supervisors.has(sup);

  #learn(sup: string): void {
    if (this.#supervisors.has(sup)) return;
    this.#supervisors.set(sup, Date.now());
    this.additions++;
  }

  /** Records what an event tells about start times and supervisors. */
  onEvent(e: SupervisorEvent): void {
    switch (e.type) {
      case 'supervisor_started':
        this.#strategies.set(e.supervisor, e.strategy);
        if (!this.#marks.has(e.supervisor)) this.#mark(e.supervisor, { at: e.at, exact: true });
        if (e.parent !== undefined && this.isKnown(e.parent)) this.#learn(e.supervisor);
        break;
      case 'child_started':
        this.#mark(e.pid, { at: e.at, exact: true });
        if (e.childType === 'supervisor' && this.isKnown(e.supervisor)) this.#learn(e.pid);
        break;
      case 'child_restarted':
        this.#mark(e.pid, { at: e.at, exact: true });
        break;
      case 'child_exited':
      case 'child_terminated':
        this.#marks.delete(e.pid);
        break;
      default:
        break;
    }
  }

  /** Walks the tree from the root. Never rejects: failures become node statuses. */
  async walk(o: WalkOptions): Promise<TreeNodeView> {
    const started = Date.now();
    const seen = new Set<string>();
    const rootPid = this.#resolveRoot();
    let root: TreeNodeView;
    if (rootPid === undefined) {
      root = {
        key: 'root',
        id: null,
        pid: null,
        type: 'supervisor',
        status: 'stopped',
        restarts: 0,
        startedAt: null,
        startedAtExact: false,
        supervisor: null,
        error: `no process is registered as "${this.#root}"`,
      };
    } else {
      seen.add(rootPid);
      const { status, children, error, hidden } = await this.#childrenOf(rootPid, 'root', 0, o, seen);
      const mark = this.#markOf(rootPid, started);
      root = {
        key: 'root',
        id: typeof this.#root === 'string' && !isPid(this.#root) ? this.#root : null,
        pid: rootPid,
        type: 'supervisor',
        status,
        restarts: 0,
        startedAt: status === 'stopped' ? null : mark.at,
        startedAtExact: mark.exact,
        strategy: this.#strategies.get(rootPid),
        supervisor: null,
        health: o.health(rootPid, null, null),
        error,
        children,
        hiddenChildren: hidden,
      };
    }
    this.#prune(seen, started);
    return root;
  }

  /** A registered name is looked up on every walk: a restarted root registers it under a new pid. */
  #resolveRoot(): string | undefined {
    if (isPid(this.#root)) return this.#root;
    const pid = whereis(this.#root);
    if (pid !== undefined) {
      this.#resolvedRoot = pid;
      this.#learn(pid);
    }
    return pid;
  }

  async #childrenOf(
    sup: string,
    key: string,
    depth: number,
    o: WalkOptions,
    seen: Set<string>,
  ): Promise<SubtreeResult> {
    let infos: ChildInfo[];
    try {
      infos = await whichChildren(sup as Pid, o.callTimeoutMs);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'ERR_CALL_TIMEOUT') {
        return {
          status: 'unreachable',
          children: [...(this.#lastChildren.get(sup) ?? [])],
          error: `no answer within ${o.callTimeoutMs} ms (busy starting or stopping children?)`,
        };
      }
      this.#lastChildren.delete(sup);
      return { status: 'stopped', error: (e as Error).message };
    }
    const now = Date.now();
    const shown = infos.slice(0, o.maxChildren);
    const children = await Promise.all(
      shown.map(async (c): Promise<TreeNodeView> => {
        const pid = typeof c.pid === 'string' && c.pid !== 'restarting' ? c.pid : null;
        const childKey = `${key}/${c.id ?? pid ?? '?'}`;
        const status: NodeStatus =
          pid !== null ? 'running' : c.pid === 'restarting' ? 'restarting' : 'stopped';
        const mark = pid !== null ? this.#markOf(pid, now) : undefined;
        let sub: SubtreeResult | undefined;
        if (pid !== null) {
          seen.add(pid);
          if (c.type === 'supervisor') {
            this.#learn(pid);
            sub =
              depth + 1 < o.maxDepth
                ? await this.#childrenOf(pid, childKey, depth + 1, o, seen)
                : { status: 'running', error: `not walked: deeper than ${o.maxDepth} levels` };
          }
        }
        return {
          key: childKey,
          id: c.id ?? null,
          pid,
          type: c.type,
          status: sub?.status ?? status,
          restart: c.restart,
          restarts: c.restarts,
          startedAt: mark?.at ?? null,
          startedAtExact: mark?.exact ?? false,
          strategy: pid !== null ? this.#strategies.get(pid) : undefined,
          supervisor: sup,
          health: o.health(pid, c.id ?? null, sup),
          observer: pid !== null && pid === o.self ? true : undefined,
          error: sub?.error,
          children: sub?.children,
          hiddenChildren: sub?.hidden,
        };
      }),
    );
    this.#lastChildren.set(sup, children);
    return {
      status: 'running',
      children,
      hidden: infos.length > shown.length ? infos.length - shown.length : undefined,
    };
  }

  #markOf(pid: string, now: number): StartMark {
    let m = this.#marks.get(pid);
    if (m === undefined) {
      // Started before the observer watched: time it from now, flagged as a lower bound.
      m = { at: now, exact: false };
      this.#mark(pid, m);
    }
    return m;
  }

  #mark(pid: string, m: StartMark): void {
    this.#marks.set(pid, m);
    if (this.#marks.size > MAX_MARKS) {
      const first = this.#marks.keys().next().value;
      if (first !== undefined) this.#marks.delete(first);
    }
  }

  #prune(seen: Set<string>, walkStarted: number): void {
    for (const [pid, m] of this.#marks) {
      if (!seen.has(pid) && m.at < walkStarted - MARK_TTL_MS) this.#marks.delete(pid);
    }
    for (const sup of this.#lastChildren.keys()) if (!seen.has(sup)) this.#lastChildren.delete(sup);
    // A supervisor gone from the tree emits nothing more; one learnt from an event may not have been
    // walked yet, so it is kept a while.
    for (const [sup, at] of this.#supervisors) {
      if (!seen.has(sup) && at < walkStarted - MARK_TTL_MS) this.#supervisors.delete(sup);
    }
  }
}
