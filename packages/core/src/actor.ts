/**
 * The public face of processes: `spawn` and the `ActorContext` a process body receives, plus the same
 * operations for code that runs outside any actor (it acts through its node's pseudo-process).
 */
import type { Clock } from './clock.js';
import type { ExitSignal } from './exit-reason.js';
import { type Matcher, type NO_MESSAGE, toPredicate } from './mailbox.js';
import { isViaName, type ServerRef, type ViaName, viaRegistry } from './names/via.js';
import { currentNode, type Node, type SpawnOptions } from './node.js';
import type { Pid, Ref } from './pid.js';
import { type Proc, ProcessExitedSignal, type Timeout } from './process.js';
import type { CallFrom, Transferable } from './signals.js';

export { NO_MESSAGE } from './mailbox.js';
export { TIMEOUT } from './process.js';

/** OTP's default call time-out. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

export interface SendOptions {
  /** ArrayBuffers (or MessagePorts) to transfer instead of copy when the target is in another thread. */
  readonly transfer?: readonly Transferable[];
}

export type ActorBody<M = unknown> = (ctx: ActorContext<M>) => unknown;

export class ActorContext<M = unknown> {
  readonly node: Node;
  /** @internal */
  readonly proc: Proc;

  constructor(node: Node, proc: Proc) {
    this.node = node;
    this.proc = proc;
  }

  get self(): Pid {
    return this.proc.pid;
  }

  get clock(): Clock {
    return this.proc.clock;
  }

  get alive(): boolean {
    return this.proc.alive;
  }

  /** Waits for the first message (matching `matcher`, a predicate or a ts-pattern pattern). */
  receive<T = M>(matcher?: Matcher): Promise<T>;
  /** As above; resolves with TIMEOUT when nothing matching arrives within `timeoutMs`. */
  receive<T = M>(matcher: Matcher | undefined, timeoutMs: number | undefined): Promise<T | Timeout>;
  receive(matcher?: Matcher, timeoutMs?: number): Promise<unknown> {
    return this.proc.receive(toPredicate(matcher), timeoutMs);
  }

  /** The first matching message if one is already queued, else NO_MESSAGE. */
  tryReceive<T = M>(matcher?: Matcher): T | typeof NO_MESSAGE {
    return this.proc.tryReceive(toPredicate(matcher)) as T | typeof NO_MESSAGE;
  }

  /** Sends `msg`; to a `{ via, name }` it returns the registry's promise (rejects ERR_NOPROC). */
  send(to: Pid | string, msg: unknown, opts?: SendOptions): void;
  send(to: ViaName, msg: unknown): Promise<void>;
  send(to: ServerRef, msg: unknown, opts?: SendOptions): void | Promise<void> {
    this.#check();
    if (typeof to === 'object') return sendVia(to, msg);
    this.node.send(to, msg, opts?.transfer);
  }

  /** gen_server cast: returns at once, even if the target does not exist. */
  cast(to: ServerRef, msg: unknown): void {
    this.#check();
    castFrom(this.node, to, msg);
  }

  call<R = unknown>(to: ServerRef, request: unknown, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<R> {
    this.#check();
    if (typeof to === 'object') return callVia(to, request, timeoutMs) as Promise<R>;
    return this.node.call(this.proc, to, request, timeoutMs) as Promise<R>;
  }

  /** Answers a call received as a `$call` message (or deferred from handleCall). */
  reply(from: CallFrom, value: unknown): void {
    this.node.reply(from, value, this.proc);
  }

  link(pid: Pid): void {
    this.#check();
    this.node.link(this.proc, pid);
  }

  unlink(pid: Pid): void {
    this.#check();
    this.node.unlink(this.proc, pid);
  }

  /**
   * Monitors a process; its exit (or its absence) arrives as a DOWN message. Given a registered name
   * (OTP's monitor(process, Name)), it monitors the process holding the name now, and the DOWN
   * carries the name (NameDownMessage).
   */
  monitor(target: Pid | string): Ref {
    this.#check();
    if (target.charCodeAt(0) !== 60 /* < */) return this.node.monitorName(this.proc, target);
    return this.node.monitor(this.proc.pid, target as Pid, this.proc);
  }

  /** Removes a monitor; with `flush`, also removes its DOWN message if one is already queued. */
  demonitor(ref: Ref, opts?: { flush?: boolean }): void {
    this.node.demonitor(ref, this.proc, opts?.flush === true);
  }

  /** Sets trap_exit and returns the previous value. */
  trapExit(on: boolean): boolean {
    const prev = this.proc.trapExit;
    this.proc.trapExit = on;
    return prev;
  }

  /** Sends an exit signal to `pid` (`'kill'` cannot be trapped). */
  exit(pid: Pid, signal: ExitSignal): void {
    this.#check();
    this.node.exit(this.proc.pid, pid, signal);
  }

  /** Ends this process now with `reason` and unwinds its body. */
  stop(reason: import('./exit-reason.js').ExitReason): never {
    this.node.terminate(this.proc, reason);
    throw new ProcessExitedSignal(this.proc.pid);
  }

  spawn<N = unknown>(body: ActorBody<N>, opts?: SpawnOptions): Pid {
    this.#check();
    return spawnOn(this.node, body, opts);
  }

  spawnLink<N = unknown>(body: ActorBody<N>, opts?: Omit<SpawnOptions, 'link'>): Pid {
    this.#check();
    return spawnOn(this.node, body, { ...opts, link: this.proc.pid });
  }

  register(name: string): void {
    this.node.register(name, this.proc.pid);
  }

  whereis(name: string): Pid | undefined {
    return this.node.whereis(name);
  }

  #check(): void {
    if (!this.proc.alive) throw new ProcessExitedSignal(this.proc.pid);
  }
}

export function spawnOn<M>(node: Node, body: ActorBody<M>, opts?: SpawnOptions): Pid {
  return node.spawn((proc) => body(new ActorContext<M>(node, proc)), opts);
}

function castFrom(node: Node, to: ServerRef, msg: unknown): void {
  if (typeof to === 'object') {
    // cast never fails on a missing target, through a registry either (OTP's gen_server:cast/2).
    sendVia(to, { type: '$cast', msg }).catch(() => undefined);
    return;
  }
  try {
    node.send(to, { type: '$cast', msg });
  } catch (e) {
    // cast never fails on a missing target (OTP); a non-cloneable message is still the caller's bug.
    if ((e as { code?: string }).code !== 'ERR_NOPROC') throw e;
  }
}

// ---- the same operations from outside any actor ---------------------------------------------------

/** Starts a process running `body` in this thread and returns its pid at once. */
export function spawn<M = unknown>(body: ActorBody<M>, opts?: SpawnOptions): Pid {
  return spawnOn(currentNode(), body, opts);
}

/** Sends `msg`; to a `{ via, name }` it returns the registry's promise (rejects ERR_NOPROC). */
export function send(to: Pid | string, msg: unknown, opts?: SendOptions): void;
export function send(to: ViaName, msg: unknown): Promise<void>;
export function send(to: ServerRef, msg: unknown, opts?: SendOptions): void | Promise<void> {
  if (typeof to === 'object') return sendVia(to, msg);
  currentNode().send(to, msg, opts?.transfer);
}

function sendVia(to: ViaName, msg: unknown): Promise<void> {
  try {
    if (!isViaName(to)) throw new TypeError(`not a pid, name or { via, name }: ${String(to)}`);
    return viaRegistry(to).send(to.name, msg);
  } catch (e) {
    return Promise.reject(e);
  }
}

function callVia(to: ViaName, request: unknown, timeoutMs: number): Promise<unknown> {
  try {
    if (!isViaName(to)) throw new TypeError(`not a pid, name or { via, name }: ${String(to)}`);
    return viaRegistry(to).call(to.name, request, timeoutMs);
  } catch (e) {
    return Promise.reject(e);
  }
}

export function cast(to: ServerRef, msg: unknown): void {
  castFrom(currentNode(), to, msg);
}

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly clock?: Clock;
}

/** gen_server call from outside any actor (default time-out 5000 ms). */
export function call<R = unknown>(to: ServerRef, request: unknown, opts?: number | CallOptions): Promise<R> {
  const o: CallOptions = typeof opts === 'number' ? { timeoutMs: opts } : (opts ?? {});
  if (typeof to === 'object')
    return callVia(to, request, o.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS) as Promise<R>;
  return currentNode().call(
    undefined,
    to,
    request,
    o.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    o.clock,
  ) as Promise<R>;
}

/** Sends an exit signal from outside any actor. */
export function exit(pid: Pid, signal: ExitSignal): void {
  const node = currentNode();
  node.exit(node.selfPid, pid, signal);
}

export function whereis(name: string): Pid | undefined {
  return currentNode().whereis(name);
}

/** whereis for a `{ via, name }`: the holder's pid when it lives in this Node.js process. */
export function whereisVia(name: ViaName): Promise<Pid | undefined> {
  try {
    return viaRegistry(name).whereisName(name.name);
  } catch (e) {
    return Promise.reject(e);
  }
}

export function register(name: string, pid: Pid): void {
  currentNode().register(name, pid);
}

export function unregister(name: string): void {
  currentNode().unregister(name);
}

/** Whether a process of this thread is alive (a pid of another thread answers false). */
export function isAlive(pid: Pid): boolean {
  return currentNode().procs.has(pid);
}

/** Resolves with the exit reason of `pid` once it exits (noproc when it is not alive). */
export function awaitExit(pid: Pid): Promise<import('./exit-reason.js').ExitReason> {
  return currentNode().exited(pid);
}

/** Calls `cb` once when `pid` exits; returns a ref for `demonitor`. */
export function monitor(
  pid: Pid,
  cb: (reason: import('./exit-reason.js').ExitReason, pid: Pid) => void,
): Ref {
  return currentNode().monitor(cb, pid);
}

export function demonitor(ref: Ref): void {
  currentNode().demonitor(ref);
}
