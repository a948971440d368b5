/**
 * The runtime of one thread (a "node" in Erlang's terms): its process table, registered names,
 * outstanding calls, and the rules for signals between processes.
 *
 * Signals between two processes of the same node are carried out synchronously, which trivially keeps
 * them in the order sent. Signals to a process of another node go through the RemoteRouter (the
 * thread transport), which keeps one FIFO path per pair of nodes.
 */
import { threadId } from 'node:worker_threads';
import { CallTable, callingSelfError, noprocError, serverExitedError } from './call-table.js';
import { type Clock, systemClock } from './clock.js';
import { assertCloneable } from './cloneable.js';
import { TrellisError } from './errors.js';
import { decodeReason, Exit, type ExitReason, type ExitSignal, encodeReason } from './exit-reason.js';
import { makePid, makeRef, nodeOf, type Pid, type Ref } from './pid.js';
import {
  type DownMessage,
  type ExitMessage,
  type NameDownMessage,
  Proc,
  ProcessExitedSignal,
  type Watcher,
} from './process.js';
import type { CallFrom, RemoteRouter, Signal, Transferable } from './signals.js';

export interface SpawnOptions {
  /** Link the new process to this pid before it runs (OTP's spawn_link from that process). */
  readonly link?: Pid | undefined;
  readonly trapExit?: boolean | undefined;
  /** Register the new process under this name; fails with ERR_NAME_TAKEN if taken. */
  readonly name?: string | undefined;
  readonly clock?: Clock | undefined;
}

/** The key that marks a sys request wrapped for another thread (see startCall). */
const SYS_KEY = '$trellis.sys';

export class NameTakenError extends TrellisError {
  readonly pid: Pid;
  constructor(name: string, pid: Pid) {
    super(
      'ERR_NAME_TAKEN',
      `name "${name}" is already registered to ${pid} ({already_started, ${pid}}); pick another name or stop that process first`,
      { details: { name, pid } },
    );
    this.pid = pid;
  }
}

export class NoProcError extends TrellisError {
  constructor(what: string) {
    super('ERR_NOPROC', `${what}: no such process. It has exited or was never started`, {
      details: { what },
    });
  }
}

export class AlreadyRegisteredError extends TrellisError {
  constructor(name: string, pid: Pid, held: string) {
    super(
      'ERR_ALREADY_REGISTERED',
      `cannot register "${name}" for ${pid}: it is already registered as "${held}", and a process has one name (OTP's register/2). Unregister "${held}" first, or use a { via, name } registry to give it several names`,
      { details: { name, pid, held } },
    );
  }
}

export type Body = (proc: Proc) => unknown;

export class Node {
  readonly id: number;
  /** Pseudo-process that stands for code outside any actor: it makes calls and owns callback monitors. */
  readonly selfPid: Pid;
  readonly procs = new Map<Pid, Proc>();
  readonly names = new Map<string, Pid>();
  /**
   * Names registered in the other threads of this Node.js process (the thread directory, kept by the
   * main thread's hub and replicated to every thread): a name resolves from every thread. Local names
   * come first.
   */
  readonly remoteNames = new Map<string, Pid>();
  /** Told of every local registration and its end (the thread transport publishes them). */
  nameHook: ((op: 'reg' | 'unreg', name: string, pid: Pid) => void) | undefined;
  readonly calls = new CallTable();
  router: RemoteRouter | undefined;
  defaultClock: Clock = systemClock;
  #nextId = 1;
  #nextRef = 0;
  readonly #nodeWatchers = new Map<Ref, { target: Pid; cb: (r: ExitReason, pid: Pid) => void }>();

  constructor(id: number) {
    this.id = id;
    this.selfPid = makePid(id, 0);
  }

  newRef(): Ref {
    return makeRef(this.id, ++this.#nextRef);
  }

  isLocal(pid: Pid): boolean {
    return nodeOf(pid) === this.id;
  }

  // ---- processes -------------------------------------------------------------------------------

  spawn(body: Body, opts: SpawnOptions = {}): Pid {
    if (opts.name !== undefined) {
      const holder = this.names.get(opts.name) ?? this.remoteNames.get(opts.name);
      if (holder !== undefined) throw new NameTakenError(opts.name, holder);
    }
    const pid = makePid(this.id, this.#nextId++);
    const proc = new Proc(pid, opts.clock ?? this.defaultClock, opts.trapExit === true);
    this.procs.set(pid, proc);
    if (opts.name !== undefined) {
      this.names.set(opts.name, pid);
      proc.name = opts.name;
      this.nameHook?.('reg', opts.name, pid);
    }
    if (opts.link !== undefined) {
      // A link to a process that is already gone is answered with a noproc exit signal, which the new
      // process takes like any other (an EXIT message when trapping, else it dies with noproc). Throwing
      // here instead would leave the half-made process in the table, holding its name, for ever.
      if (this.isLocal(opts.link) && !this.procs.has(opts.link)) {
        this.deliverExit(proc, opts.link, Exit.noproc);
      } else this.link(proc, opts.link);
    }
    // The body starts on a later microtask: spawn returns the pid before the process runs, as in Erlang.
    // A process killed before that point never runs its body (as in Erlang, where it never gets scheduled).
    Promise.resolve(proc)
      .then((p) => (p.alive ? body(p) : undefined))
      .then(
        () => this.terminate(proc, Exit.normal),
        (err: unknown) => {
          if (err instanceof ProcessExitedSignal || !proc.alive) return;
          this.terminate(proc, Exit.error(err));
        },
      );
    return pid;
  }

  /** Ends a process: unwinds its body, signals links and monitors, fails its unanswered calls. */
  terminate(proc: Proc, reason: ExitReason): void {
    if (!proc.alive) return;
    proc.markDead(reason);
    this.procs.delete(proc.pid);
    if (proc.name !== undefined && this.names.get(proc.name) === proc.pid) {
      this.names.delete(proc.name);
      this.nameHook?.('unreg', proc.name, proc.pid);
    }
    if (proc.inboundCalls) {
      for (const from of proc.inboundCalls) this.#failCall(from, reason);
      proc.inboundCalls = undefined;
    }
    for (const l of proc.links) {
      proc.links.delete(l);
      if (this.isLocal(l)) {
        const lp = this.procs.get(l);
        if (lp?.links.delete(proc.pid)) this.deliverExit(lp, proc.pid, reason);
      } else {
        this.#route({ t: 'exit', from: proc.pid, to: l, r: encodeReason(reason), link: true });
      }
    }
    for (const [ref, w] of proc.monitoredBy) this.#down(ref, w, proc.pid, reason);
    proc.monitoredBy.clear();
    for (const [ref, target] of proc.monitors) {
      if (this.isLocal(target)) this.procs.get(target)?.monitoredBy.delete(ref);
      else this.#route({ t: 'demon', ref, to: target });
    }
    proc.monitors.clear();
    proc.onExit?.(reason);
  }

  /** Applies an exit signal to a local process with OTP's rules (trap_exit, normal, kill). */
  deliverExit(target: Proc, from: Pid, signal: ExitSignal): void {
    if (!target.alive) return;
    if (signal === 'kill') {
      this.terminate(target, Exit.killed);
      return;
    }
    if (target.trapExit) {
      const msg: ExitMessage = { type: 'EXIT', from, reason: signal };
      target.deliver(msg);
      return;
    }
    if (signal.type === 'normal') {
      if (from === target.pid) this.terminate(target, signal);
      return;
    }
    this.terminate(target, signal);
  }

  // ---- messages, exits, links, monitors ---------------------------------------------------------

  send(to: Pid | string, msg: unknown, transfer?: readonly Transferable[]): void {
    let pid: Pid;
    if (typeof to === 'string' && to.charCodeAt(0) === 60 /* < */) pid = to as Pid;
    else {
      const p = this.names.get(to) ?? this.remoteNames.get(to);
      if (p === undefined)
        throw new NoProcError(`send to "${to}" (no process is registered under that name)`);
      pid = p;
    }
    if (this.isLocal(pid)) {
      this.procs.get(pid)?.deliver(msg);
      return;
    }
    assertCloneable(msg);
    this.#route({ t: 'msg', to: pid, m: msg }, transfer);
  }

  exit(from: Pid, to: Pid, signal: ExitSignal): void {
    if (this.isLocal(to)) {
      const p = this.procs.get(to);
      if (p) this.deliverExit(p, from, signal);
      return;
    }
    if (signal === 'kill' && this.router?.kill?.(to)) return;
    this.#route({ t: 'exit', from, to, r: signal === 'kill' ? 'kill' : encodeReason(signal), link: false });
  }

  link(proc: Proc, to: Pid): void {
    if (to === proc.pid || proc.links.has(to)) return;
    if (this.isLocal(to)) {
      const other = this.procs.get(to);
      if (other === undefined) {
        this.#noprocLink(proc, to);
        return;
      }
      proc.links.add(to);
      other.links.add(proc.pid);
      return;
    }
    proc.links.add(to);
    this.#route({ t: 'link', from: proc.pid, to });
  }

  #noprocLink(proc: Proc, to: Pid): void {
    // OTP: a trapping caller gets {'EXIT', Pid, noproc}; any other caller gets a noproc exception.
    if (proc.trapExit) proc.deliver({ type: 'EXIT', from: to, reason: Exit.noproc } satisfies ExitMessage);
    else throw new NoProcError(`link to ${to}`);
  }

  unlink(proc: Proc, to: Pid): void {
    if (!proc.links.delete(to)) return;
    if (this.isLocal(to)) this.procs.get(to)?.links.delete(proc.pid);
    else this.#route({ t: 'unlink', from: proc.pid, to });
  }

  /** Monitors `target` on behalf of a process (DOWN message) or of a callback. */
  monitor(watcher: Watcher, target: Pid, watcherProc?: Proc, ref: Ref = this.newRef()): Ref {
    if (watcherProc) watcherProc.monitors.set(ref, target);
    if (this.isLocal(target)) {
      const t = this.procs.get(target);
      if (t === undefined) this.#down(ref, watcher, target, Exit.noproc);
      else t.monitoredBy.set(ref, watcher);
      return ref;
    }
    let from: Pid;
    if (typeof watcher === 'function') {
      this.#nodeWatchers.set(ref, { target, cb: watcher });
      from = this.selfPid;
    } else from = watcher;
    this.#route({ t: 'mon', ref, from, to: target });
    return ref;
  }

  /**
   * OTP's monitor(process, Name) for a name registered in this thread: monitors the process that
   * holds the name now; the DOWN carries the name. An unregistered name gives DOWN noproc at once.
   */
  monitorName(watcherProc: Proc, name: string): Ref {
    const ref = this.newRef();
    const pid = this.names.get(name) ?? this.remoteNames.get(name);
    if (pid === undefined) {
      watcherProc.deliver({ type: 'DOWN', ref, name, pid: undefined, reason: Exit.noproc });
      return ref;
    }
    if (watcherProc.monitorNames === undefined) watcherProc.monitorNames = new Map();
    watcherProc.monitorNames.set(ref, name);
    return this.monitor(watcherProc.pid, pid, watcherProc, ref);
  }

  demonitor(ref: Ref, watcherProc?: Proc, flush = false): void {
    let target: Pid | undefined;
    if (watcherProc) {
      watcherProc.monitorNames?.delete(ref);
      target = watcherProc.monitors.get(ref);
      watcherProc.monitors.delete(ref);
      if (flush) watcherProc.mailbox.remove((m) => (m as { type?: string; ref?: Ref }).ref === ref);
    } else {
      target = this.#nodeWatchers.get(ref)?.target;
      this.#nodeWatchers.delete(ref);
    }
    if (target === undefined) {
      // A callback monitor on a local process is only recorded on the target.
      for (const p of this.procs.values()) if (p.monitoredBy.delete(ref)) return;
      return;
    }
    if (this.isLocal(target)) this.procs.get(target)?.monitoredBy.delete(ref);
    else this.#route({ t: 'demon', ref, to: target });
  }

  /** Resolves with the exit reason of `pid` (noproc if it is not alive). */
  exited(pid: Pid): Promise<ExitReason> {
    return new Promise((resolve) => this.monitor((r) => resolve(r), pid));
  }

  #down(ref: Ref, watcher: Watcher, pid: Pid, reason: ExitReason): void {
    if (typeof watcher === 'function') {
      runCallback(watcher, reason, pid);
      return;
    }
    if (this.isLocal(watcher)) {
      if (watcher === this.selfPid) {
        const w = this.#nodeWatchers.get(ref);
        this.#nodeWatchers.delete(ref);
        if (w) runCallback(w.cb, reason, pid);
        return;
      }
      const wp = this.procs.get(watcher);
      if (wp?.monitors.delete(ref)) wp.deliver(downMessage(wp, ref, pid, reason));
    } else {
      this.#route({ t: 'down', ref, to: watcher, pid, r: encodeReason(reason) });
    }
  }

  // ---- names -------------------------------------------------------------------------------------

  register(name: string, pid: Pid): void {
    const local = this.names.get(name);
    if (local !== undefined) throw new NameTakenError(name, local);
    const remote = this.remoteNames.get(name);
    // The thread directory already has this very name for this very pid (a thread actor registered
    // itself); registering it here as well is then harmless, and code written before names crossed
    // threads does just that.
    if (remote !== undefined && remote !== pid) throw new NameTakenError(name, remote);
    if (!this.isLocal(pid)) {
      // A name in this thread for a process of another thread (a thread actor seen from its parent):
      // freed when that process exits, like any name (OTP statement 35).
      for (const [n, p] of this.names) if (p === pid) throw new AlreadyRegisteredError(name, pid, n);
      this.names.set(name, pid);
      this.monitor(() => {
        if (this.names.get(name) === pid) this.names.delete(name);
      }, pid);
      return;
    }
    const p = this.procs.get(pid);
    if (p === undefined) throw new NoProcError(`register "${name}" for ${pid}`);
    // OTP's register/2 is badarg for a process that already has a name: one name per process.
    if (p.name !== undefined) throw new AlreadyRegisteredError(name, pid, p.name);
    p.name = name;
    this.names.set(name, pid);
    this.nameHook?.('reg', name, pid);
  }

  unregister(name: string): void {
    const pid = this.names.get(name);
    if (pid === undefined) return;
    this.names.delete(name);
    const p = this.procs.get(pid);
    if (p) {
      p.name = undefined;
      this.nameHook?.('unreg', name, pid);
    }
  }

  /** The pid registered under `name` in this thread or, failing that, in any other thread. */
  whereis(name: string): Pid | undefined {
    return this.names.get(name) ?? this.remoteNames.get(name);
  }

  // ---- call / reply ------------------------------------------------------------------------------

  call(
    caller: Proc | undefined,
    to: Pid | string,
    request: unknown,
    timeoutMs: number,
    clock?: Clock,
    system = false,
  ): Promise<unknown> {
    return new Promise((resolve, reject) =>
      this.startCall(caller, to, request, timeoutMs, clock, resolve, reject, system),
    );
  }

  /**
   * A call without a promise of its own (call() wraps it in one; sendRequest settles a request id):
   * `resolve` or `reject` is called exactly once. `system` makes it a sys request (`$system` message,
   * OTP's system messages: sys:get_state and the like), which a behaviour answers itself.
   */
  startCall(
    caller: Proc | undefined,
    to: Pid | string,
    request: unknown,
    timeoutMs: number,
    clock: Clock | undefined,
    resolve: (v: unknown) => void,
    reject: (e: unknown) => void,
    system = false,
  ): void {
    let target: Pid;
    const byName = !(typeof to === 'string' && to.charCodeAt(0) === 60);
    if (byName) {
      const p = this.names.get(to) ?? this.remoteNames.get(to);
      if (p === undefined) {
        reject(noprocError(to, true));
        return;
      }
      target = p;
    } else target = to as Pid;
    if (caller !== undefined && caller.pid === target) {
      reject(callingSelfError(target));
      return;
    }
    const ref = this.calls.newRef();
    const from: CallFrom = { pid: caller?.pid ?? this.selfPid, ref };
    const label = byName ? `"${to}" (${target})` : target;
    this.calls.add(
      ref,
      target,
      label,
      timeoutMs,
      clock ?? caller?.clock ?? this.defaultClock,
      resolve,
      reject,
    );
    if (this.isLocal(target)) {
      const proc = this.procs.get(target);
      if (proc === undefined) this.calls.reject(ref, noprocError(label, false));
      else this.acceptCall(proc, from, request, system);
    } else {
      try {
        assertCloneable(request, 'request');
      } catch (e) {
        this.calls.reject(ref, e);
        return;
      }
      // A sys request crosses threads as an ordinary call with a wrapped request (the transport's
      // flat call frame has no room for a flag); handleSignal unwraps it.
      this.#route({ t: 'call', to: target, from, req: system ? { [SYS_KEY]: request } : request });
    }
  }

  acceptCall(proc: Proc, from: CallFrom, request: unknown, system = false): void {
    if (proc.inboundCalls === undefined) proc.inboundCalls = new Set();
    proc.inboundCalls.add(from);
    proc.deliver({ type: system ? '$system' : '$call', from, request });
  }

  reply(from: CallFrom, value: unknown, replier?: Proc): void {
    replier?.inboundCalls?.delete(from);
    if (this.isLocal(from.pid)) {
      this.calls.resolve(from.ref, value);
      return;
    }
    try {
      assertCloneable(value, 'reply');
    } catch (e) {
      this.#route(
        { t: 'callfail', ref: from.ref, r: encodeReason(Exit.error(e)) },
        undefined,
        nodeOf(from.pid),
      );
      return;
    }
    this.#route({ t: 'reply', ref: from.ref, v: value }, undefined, nodeOf(from.pid));
  }

  /** Fails one call this process received (it will not answer it) with `reason`. */
  failCall(from: CallFrom, reason: ExitReason, replier?: Proc): void {
    replier?.inboundCalls?.delete(from);
    this.#failCall(from, reason);
  }

  #failCall(from: CallFrom, reason: ExitReason): void {
    if (this.isLocal(from.pid)) this.#rejectCall(from.ref, reason);
    else this.#route({ t: 'callfail', ref: from.ref, r: encodeReason(reason) }, undefined, nodeOf(from.pid));
  }

  #rejectCall(ref: number, reason: ExitReason): void {
    this.calls.rejectWith(ref, (label) => serverExitedError(label, reason));
  }

  // ---- remote signals ----------------------------------------------------------------------------

  #route(sig: Signal, transfer?: readonly Transferable[], node?: number): void {
    const dest = node ?? nodeOf((sig as { to: Pid }).to);
    if (this.router === undefined || !this.router.route(dest, sig, transfer)) {
      const back = bounce(sig);
      if (back) this.handleSignal(back);
    }
  }

  /** Carries out a signal that arrived from another node. */
  handleSignal(sig: Signal): void {
    switch (sig.t) {
      case 'msg':
        this.procs.get(sig.to)?.deliver(sig.m);
        return;
      case 'call': {
        const p = this.procs.get(sig.to);
        if (p === undefined) this.#failCall(sig.from, Exit.noproc);
        else {
          const req = sig.req as { [SYS_KEY]?: unknown } | null;
          if (typeof req === 'object' && req !== null && SYS_KEY in req)
            this.acceptCall(p, sig.from, req[SYS_KEY], true);
          else this.acceptCall(p, sig.from, sig.req);
        }
        return;
      }
      case 'reply':
        this.calls.resolve(sig.ref, sig.v);
        return;
      case 'callfail':
        this.#rejectCall(sig.ref, decodeReason(sig.r));
        return;
      case 'exit': {
        const p = this.procs.get(sig.to);
        if (p === undefined) return;
        // A link signal counts only while the link exists (it may have been removed by unlink).
        if (sig.link && !p.links.delete(sig.from)) return;
        this.deliverExit(p, sig.from, sig.r === 'kill' ? 'kill' : decodeReason(sig.r));
        return;
      }
      case 'link': {
        const p = this.procs.get(sig.to);
        if (p) p.links.add(sig.from);
        else this.#route({ t: 'exit', from: sig.to, to: sig.from, r: Exit.noproc, link: true });
        return;
      }
      case 'unlink':
        this.procs.get(sig.to)?.links.delete(sig.from);
        return;
      case 'mon': {
        const p = this.procs.get(sig.to);
        if (p) p.monitoredBy.set(sig.ref, sig.from);
        else this.#route({ t: 'down', ref: sig.ref, to: sig.from, pid: sig.to, r: Exit.noproc });
        return;
      }
      case 'demon':
        this.procs.get(sig.to)?.monitoredBy.delete(sig.ref);
        return;
      case 'down':
        this.#down(sig.ref, sig.to, sig.pid, decodeReason(sig.r));
        return;
      case 'nodedown':
        this.nodeDown(sig.node, decodeReason(sig.r));
        return;
    }
  }

  /** Every process of `node` is gone: fire links, monitors and calls that point there. */
  nodeDown(node: number, reason: ExitReason): void {
    for (const proc of [...this.procs.values()]) {
      for (const [ref, w] of proc.monitoredBy)
        if (typeof w === 'string' && nodeOf(w) === node) proc.monitoredBy.delete(ref);
      if (proc.inboundCalls)
        for (const f of proc.inboundCalls) if (nodeOf(f.pid) === node) proc.inboundCalls.delete(f);
      for (const [ref, t] of proc.monitors) {
        if (nodeOf(t) !== node) continue;
        proc.monitors.delete(ref);
        proc.deliver(downMessage(proc, ref, t, reason));
      }
      for (const l of proc.links) {
        if (nodeOf(l) !== node) continue;
        proc.links.delete(l);
        this.deliverExit(proc, l, reason);
      }
    }
    for (const [ref, w] of this.#nodeWatchers) {
      if (nodeOf(w.target) !== node) continue;
      this.#nodeWatchers.delete(ref);
      runCallback(w.cb, reason, w.target);
    }
    this.calls.failNode(node, nodeOf, (label) => serverExitedError(label, reason));
  }
}

/** The DOWN message for a monitor of `watcher`: by name (NameDownMessage) or by pid. */
function downMessage(watcher: Proc, ref: Ref, pid: Pid, reason: ExitReason): DownMessage | NameDownMessage {
  const name = watcher.monitorNames?.get(ref);
  if (name === undefined) return { type: 'DOWN', ref, pid, reason };
  watcher.monitorNames!.delete(ref);
  return { type: 'DOWN', ref, name, pid, reason };
}

/**
 * Runs a monitor callback (code outside any actor). It runs in the middle of an exit: if its exception
 * escaped here it would cut that exit short (later links, monitors and clean-up skipped) and land in
 * whichever process caused the exit, say a supervisor stopping a child. So it is raised again on its
 * own, as an EventEmitter listener's exception would be.
 */
function runCallback(cb: (r: ExitReason, pid: Pid) => void, reason: ExitReason, pid: Pid): void {
  try {
    cb(reason, pid);
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}

/** The answer to a signal whose destination node does not exist (any more). */
export function bounce(sig: Signal): Signal | undefined {
  switch (sig.t) {
    case 'link':
      return { t: 'exit', from: sig.to, to: sig.from, r: Exit.noproc, link: true };
    case 'mon':
      return { t: 'down', ref: sig.ref, to: sig.from, pid: sig.to, r: Exit.noproc };
    case 'call':
      return { t: 'callfail', ref: sig.from.ref, r: Exit.noproc };
    default:
      return undefined;
  }
}

let current: Node | undefined;

/** The node of the calling thread (created on first use). */
export function currentNode(): Node {
  if (current === undefined) current = new Node(threadId);
  return current;
}
