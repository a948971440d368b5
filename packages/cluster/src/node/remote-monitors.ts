/**
 * Monitors and links on processes of other nodes (OTP's monitor/2 and link/1 across nodes).
 *
 * A monitor is a Monitor stream to the target's node, answered once when the target exits. When
 * the target's node goes DOWN (its member key of that incarnation is gone), every monitor and link on
 * it fires with OTP's `noconnection`: an `{ error }` reason whose cause is NoConnectionError, so a
 * supervisor restarts a linked child as after any crash. A broken stream alone is not a reason to
 * fire: the node may only be unreachable for a moment, and only the store declares it down. The
 * stream is then opened again; a target that died meanwhile answers noproc at once.
 */
import { Exit, type ExitReason, type Node, type Pid, type Ref } from '@trellis/core';
import { NoConnectionError } from '../errors.js';
import type { MonitorEvent } from './wire.js';

/** A process of some node of the cluster: the node, its incarnation, the pid on it. */
export interface GlobalPid {
  readonly node: string;
  readonly incarnation: number;
  readonly pid: Pid;
}

/** What a process monitoring a remote process receives (OTP's {'DOWN', Ref, process, {Pid, Node}, Reason}). */
export interface RemoteDownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  readonly pid: Pid;
  readonly node: string;
  readonly incarnation: number;
  readonly reason: ExitReason;
}

export type RemoteWatcher = Pid | ((reason: ExitReason, target: GlobalPid) => void);

/** How monitors reach the other nodes (implemented by ClusterNode). */
export interface MonitorTransport {
  /** Opens a Monitor stream; returns its cancel function. `onEnd` is called when it breaks without an answer. */
  openMonitor(
    target: GlobalPid,
    onExit: (e: MonitorEvent) => void,
    onEnd: (err: unknown) => void,
  ): () => void;
  /** Whether this incarnation of the node is still a member. */
  isMember(node: string, incarnation: number): boolean;
  /** Sends an exit signal to a remote process (the other half of a link). */
  sendExit(target: GlobalPid, reason: ExitReason): void;
}

interface Entry {
  readonly ref: Ref;
  readonly target: GlobalPid;
  readonly watcher: RemoteWatcher;
  cancel: (() => void) | undefined;
  retry: NodeJS.Timeout | undefined;
  /** For links: the local monitor whose DOWN tells the remote side. */
  localRef: Ref | undefined;
}

export class RemoteMonitors {
  readonly #node: Node;
  readonly #transport: MonitorTransport;
  readonly #entries = new Map<Ref, Entry>();
  #closed = false;

  constructor(node: Node, transport: MonitorTransport) {
    this.#node = node;
    this.#transport = transport;
  }

  /** Monitors `target`; the watcher gets one DOWN (a RemoteDownMessage for a pid). */
  monitor(target: GlobalPid, watcher: RemoteWatcher): Ref {
    const e: Entry = {
      ref: this.#node.newRef(),
      target,
      watcher,
      cancel: undefined,
      retry: undefined,
      localRef: undefined,
    };
    this.#entries.set(e.ref, e);
    if (!this.#transport.isMember(target.node, target.incarnation)) {
      queueMicrotask(() => this.#fire(e, Exit.error(new NoConnectionError(target.node, target.incarnation))));
    } else this.#open(e);
    return e.ref;
  }

  /**
   * Links `local` to `target`: an abnormal exit of either is an exit signal to the other, and the
   * target's node going down is an exit signal `noconnection` to `local`.
   */
  link(local: Pid, target: GlobalPid): Ref {
    const ref = this.monitor(target, (reason) => {
      // A clean exit of the remote end is delivered too: a trapping process sees it, others ignore it.
      this.#node.exit(this.#node.selfPid, local, reason);
    });
    const e = this.#entries.get(ref);
    if (e !== undefined) {
      e.localRef = this.#node.monitor((reason) => {
        if (!this.#entries.has(ref)) return;
        this.demonitor(ref);
        if (reason.type !== 'normal') this.#transport.sendExit(target, reason);
      }, local);
    }
    return ref;
  }

  demonitor(ref: Ref): void {
    const e = this.#entries.get(ref);
    if (e === undefined) return;
    this.#entries.delete(ref);
    this.#stop(e);
  }

  /** The node of that incarnation is down: every monitor and link on it fires with noconnection. */
  nodeDown(node: string, incarnation: number): void {
    for (const e of [...this.#entries.values()]) {
      if (e.target.node === node && e.target.incarnation === incarnation)
        this.#fire(e, Exit.error(new NoConnectionError(node, incarnation)));
    }
  }

  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) this.#stop(e);
    this.#entries.clear();
  }

  #stop(e: Entry): void {
    e.cancel?.();
    e.cancel = undefined;
    if (e.retry !== undefined) clearTimeout(e.retry);
    if (e.localRef !== undefined) this.#node.demonitor(e.localRef);
  }

  #open(e: Entry): void {
    e.cancel = this.#transport.openMonitor(
      e.target,
      (ev) => this.#fire(e, ev.reason),
      () => {
        if (!this.#entries.has(e.ref) || this.#closed) return;
        e.cancel = undefined;
        // Broken stream: down only if the store says so; else the node is unreachable for now.
        if (!this.#transport.isMember(e.target.node, e.target.incarnation)) {
          this.#fire(e, Exit.error(new NoConnectionError(e.target.node, e.target.incarnation)));
          return;
        }
        e.retry = setTimeout(() => {
          e.retry = undefined;
          if (this.#entries.has(e.ref) && !this.#closed) this.#open(e);
        }, 200);
        e.retry.unref();
      },
    );
  }

  #fire(e: Entry, reason: ExitReason): void {
    if (!this.#entries.delete(e.ref)) return;
    this.#stop(e);
    if (typeof e.watcher === 'function') {
      try {
        e.watcher(reason, e.target);
      } catch {
        // a callback's fault is its own
      }
    } else {
      this.#node.send(e.watcher, {
        type: 'DOWN',
        ref: e.ref,
        pid: e.target.pid,
        node: e.target.node,
        incarnation: e.target.incarnation,
        reason,
      } satisfies RemoteDownMessage);
    }
  }
}
