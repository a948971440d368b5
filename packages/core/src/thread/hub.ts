/**
 * The main thread's side of thread actors: one Worker per thread actor, the router that carries the
 * main node's signals to them, the forwarding of signals between threads (star topology), and the
 * translation of each way a thread can end into the exit reason of its root.
 *
 * How a thread ends, and what everyone else sees (the root's reason; every other process of the
 * thread is reported through `nodedown` with the same reason, here and in every other thread):
 *   - its root exits: the thread reports `exiting {reason}` after the root's own exit signals, and
 *     is terminated; its leftovers are reported with `noproc` (they no longer exist);
 *   - we terminated it for `exit(root, kill)`: `killed`;
 *   - Node reported ERR_WORKER_OUT_OF_MEMORY: {error, ThreadOutOfMemoryError};
 *   - Node reported another error: {error, ThreadUncaughtError} with the original as cause;
 *   - it stopped with no error (process.exit(n) inside): {error, ThreadExitError}.
 * Node may report the error before the last messages of the thread are delivered, but always drains
 * them before 'exit'; so the decision is taken at 'exit', once everything the thread said is known.
 */
import { type ResourceLimits, type SHARE_ENV, Worker } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import { decodeReason, Exit, type ExitReason, encodeReason } from '../exit-reason.js';
import { IGNORE, type Ignore, InitFailedError } from '../gen.js';
import { bounce, currentNode, type Node } from '../node.js';
import { nodeOf, type Pid } from '../pid.js';
import type { RemoteRouter, Signal, Transferable } from '../signals.js';
import { ThreadExitError, ThreadOutOfMemoryError, ThreadUncaughtError } from './errors.js';
import type { BootData, DelegatedSpawn, Frame, NameNotice, StartRequest, ToMain } from './protocol.js';
import { type DroppedItem, FrameSender, type FrameVisitor, failedCallFor, readFrame } from './transport.js';

/**
 * `true` in the esbuild bundle (scripts/bundle-core.mjs defines it), undeclared in tsc's output.
 * Only read through `typeof`, so reading it outside the bundle throws no ReferenceError.
 */
declare const TRELLIS_BUNDLED: boolean | undefined;

/**
 * Every thread actor runs the BUNDLED entry, dist/bundle/actor.js (worker-entry.ts, which is also
 * `@trellis/core/actor`), even when this main side was loaded from tsc's dist/src (core's own tests):
 * the thread then loads one file instead of ~14 modules (the cold-start cost), and the actor's
 * module, importing `@trellis/core/actor` or `@trellis/core`, gets the very files the entry runs on,
 * so a thread never holds two runtimes. The main side is another thread: nothing it holds needs to
 * be the same module instance as the thread's (everything crossing over is cloned).
 */
const ENTRY =
  typeof TRELLIS_BUNDLED === 'boolean'
    ? new URL('./actor.js', import.meta.url) // this is dist/bundle/index.js, next to actor.js
    : new URL('../../bundle/actor.js', import.meta.url); // this is dist/src/thread/hub.js

/** Options of the Worker itself. */
export interface ThreadWorkerOptions {
  readonly resourceLimits?: ResourceLimits | undefined;
  readonly env?: Record<string, string | undefined> | typeof SHARE_ENV | undefined;
  readonly execArgv?: readonly string[] | undefined;
}

type State = 'booting' | 'ready' | 'starting' | 'running' | 'exiting' | 'dead';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One thread-actor thread as the main thread sees it. */
export class ThreadHandle {
  readonly id: number;
  readonly url: string;
  readonly worker: Worker;
  readonly sender: FrameSender;
  readonly limits: ResourceLimits | undefined;
  state: State;
  root: Pid | undefined;
  /** The root's reason as the thread reported it (`exiting`): the thread ended in order. */
  rootReason: ExitReason | undefined;
  killed = false;
  crash: { readonly error: unknown } | undefined;
  /** Settles when the start ends: pid, IGNORE, or InitFailedError. */
  start: Deferred<Pid | Ignore> | undefined;
  /** For a spare: true once it is ready for `start`, false if it died first. */
  readonly ready = deferred<boolean>();
  /** The root's exit reason, once the thread is gone. */
  readonly exited = deferred<ExitReason>();

  constructor(
    worker: Worker,
    url: string,
    sender: FrameSender,
    limits: ResourceLimits | undefined,
    state: State,
  ) {
    this.id = worker.threadId;
    this.worker = worker;
    this.url = url;
    this.sender = sender;
    this.limits = limits;
    this.state = state;
  }

  get alive(): boolean {
    return this.state !== 'dead';
  }
}

export class ThreadHub implements RemoteRouter {
  readonly node: Node;
  readonly threads = new Map<number, ThreadHandle>();
  /** A router that was installed before us (for nodes that are not our threads). */
  readonly #prev: RemoteRouter | undefined;

  /** Every name registered in a thread other than main's, by name (main's own are node.names). */
  readonly #directory = new Map<string, Pid>();

  constructor(node: Node) {
    this.node = node;
    this.#prev = node.router;
    node.router = this;
    // The main thread's own names reach every thread too.
    node.nameHook = (op, name, pid) => this.#broadcastName(op, name, pid, undefined);
  }

  /** Tells every thread (but `except`) of a name registered or freed. */
  #broadcastName(op: 'reg' | 'unreg', name: string, pid: Pid, except: number | undefined): void {
    for (const t of this.threads.values())
      if (t.id !== except && t.state !== 'dead') t.sender.control({ k: 'name', op, name, pid });
  }

  /** A thread registered or freed a name: keep the directory, replicate it, settle a clash. */
  #onName(h: ThreadHandle, c: NameNotice): void {
    if (c.op === 'unreg') {
      if (this.#directory.get(c.name) !== c.pid) return;
      this.#directory.delete(c.name);
      this.node.remoteNames.delete(c.name);
      this.#broadcastName('unreg', c.name, c.pid, h.id);
      return;
    }
    const holder = this.node.names.get(c.name) ?? this.#directory.get(c.name);
    if (holder !== undefined && holder !== c.pid) {
      h.sender.control({ k: 'name_lost', name: c.name, pid: c.pid, holder });
      return;
    }
    this.#directory.set(c.name, c.pid);
    this.node.remoteNames.set(c.name, c.pid);
    this.#broadcastName('reg', c.name, c.pid, h.id);
  }

  // ---- RemoteRouter -------------------------------------------------------------------------------

  route(dest: number, sig: Signal, transfer?: readonly Transferable[]): boolean {
    const h = this.threads.get(dest);
    if (h === undefined || h.state === 'dead') return this.#prev?.route(dest, sig, transfer) ?? false;
    h.sender.signal(dest, sig, transfer);
    return true;
  }

  /** exit(root, kill): terminate the thread, so a thread stuck in a loop dies all the same. */
  kill(pid: Pid): boolean {
    const h = this.threads.get(nodeOf(pid));
    if (h === undefined || h.root !== pid || h.state !== 'running') return this.#prev?.kill?.(pid) ?? false;
    h.killed = true;
    h.state = 'exiting';
    h.worker.terminate().catch(() => {});
    return true;
  }

  // ---- starting threads ---------------------------------------------------------------------------

  /** Boots a thread; with `start` it starts its root at once, without it is a warm spare (unref'ed). */
  boot(url: string, opts: ThreadWorkerOptions, start: StartRequest | undefined): ThreadHandle {
    const data: BootData = { trellis: 'thread-actor', url, start };
    const worker = new Worker(ENTRY, {
      workerData: data,
      resourceLimits: opts.resourceLimits,
      env: opts.env,
      execArgv: opts.execArgv === undefined ? undefined : [...opts.execArgv],
    });
    const sender = new FrameSender(worker, (d) => this.#answerDropped(d));
    const handle = new ThreadHandle(
      worker,
      url,
      sender,
      opts.resourceLimits,
      start === undefined ? 'booting' : 'starting',
    );
    if (start !== undefined) handle.start = deferred();
    // The directory as it is now; changes follow as they happen (the port keeps them in order).
    for (const [name, pid] of this.node.names)
      if (this.node.isLocal(pid)) sender.control({ k: 'name', op: 'reg', name, pid });
    for (const [name, pid] of this.#directory) sender.control({ k: 'name', op: 'reg', name, pid });
    this.threads.set(handle.id, handle);
    const visitor = this.#visitor(handle);
    worker.on('message', (frame: Frame) => readFrame(frame, visitor));
    worker.on('error', (error: unknown) => {
      if (handle.crash === undefined) handle.crash = { error };
    });
    worker.on('messageerror', (error: unknown) => {
      process.emitWarning(`a message from thread ${handle.id} could not be deserialized: ${String(error)}`, {
        code: 'TRELLIS_THREAD_DROPPED',
      });
    });
    worker.on('exit', (code: number) => this.#onExit(handle, code));
    // A spare must never keep the process alive. (After the listeners: adding one refs the port again.)
    if (start === undefined) worker.unref();
    return handle;
  }

  /** Starts the root of a ready spare. */
  adopt(h: ThreadHandle, start: StartRequest): Promise<Pid | Ignore> {
    h.state = 'starting';
    h.start = deferred();
    h.worker.ref(); // from now on it is a running actor, which keeps the process alive like a server
    h.sender.control({ k: 'start', start });
    return h.start.promise;
  }

  /** Stops a thread that has no root (a spare) or whose root must go at once. */
  discard(h: ThreadHandle): Promise<ExitReason> {
    if (h.state !== 'dead') {
      if (h.state !== 'exiting') h.killed = true;
      h.state = 'exiting';
      h.worker.terminate().catch(() => {});
    }
    return h.exited.promise;
  }

  // ---- what threads say ---------------------------------------------------------------------------

  /** How the main thread reads the frames of thread `h`: handle what is for node 0, forward the rest. */
  #visitor(h: ThreadHandle): FrameVisitor {
    const node = this.node;
    return {
      msg: (to, m, transfer) => {
        const dest = nodeOf(to);
        if (dest === node.id) node.procs.get(to)?.deliver(m);
        else this.#forward(dest, { t: 'msg', to, m }, transfer);
      },
      call: (to, from, req) => {
        const dest = nodeOf(to);
        const sig: Signal = { t: 'call', to, from, req };
        if (dest === node.id) node.handleSignal(sig);
        else this.#forward(dest, sig, undefined);
      },
      reply: (dest, ref, v) => {
        const sig: Signal = { t: 'reply', ref, v };
        if (dest === node.id) node.handleSignal(sig);
        else this.#forward(dest, sig, undefined);
      },
      signal: (dest, sig, transfer) => {
        if (dest === node.id) node.handleSignal(sig);
        else this.#forward(dest, sig, transfer);
      },
      control: (c) => this.#control(h, c as ToMain),
    };
  }

  /**
   * A signal from one thread to another: pass it on, or answer for a thread that is gone (a message
   * to a process that does not exist is dropped, as in OTP; bounce() answers links, monitors, calls).
   */
  #forward(dest: number, sig: Signal, transfer: readonly Transferable[] | undefined): void {
    if (sig.t === 'exit' && sig.r === 'kill' && !sig.link && this.kill(sig.to)) return;
    if (this.route(dest, sig, transfer)) return;
    const back = bounce(sig);
    if (back === undefined) return;
    this.#deliver(sig.t === 'call' ? nodeOf(sig.from.pid) : nodeOf((back as { to: Pid }).to), back);
  }

  #deliver(dest: number, sig: Signal): void {
    if (dest === this.node.id) this.node.handleSignal(sig);
    else this.route(dest, sig);
  }

  #answerDropped(d: DroppedItem): void {
    const back = failedCallFor(d);
    if (back !== undefined) this.#deliver(back.dest, back.signal);
  }

  #control(h: ThreadHandle, c: ToMain): void {
    switch (c.k) {
      case 'ready':
        if (h.state === 'booting') h.state = 'ready';
        h.ready.resolve(true);
        return;
      case 'started':
        h.root = c.pid;
        if (h.state === 'starting') h.state = 'running';
        h.start?.resolve(c.pid);
        return;
      case 'ignored':
        h.start?.resolve(IGNORE);
        return;
      case 'start_failed':
        h.start?.reject(new InitFailedError(decodeReason(c.r)));
        h.ready.resolve(false);
        return;
      case 'exiting': {
        const reason = decodeReason(c.r);
        h.rootReason = reason;
        h.start?.reject(new InitFailedError(reason)); // no-op when the start already settled
        h.ready.resolve(false);
        if (h.state !== 'dead') {
          h.state = 'exiting';
          h.worker.terminate().catch(() => {});
        }
        return;
      }
      case 'spawn':
        this.#spawnFor(h, c.req, c.spec);
        return;
      case 'name':
        this.#onName(h, c);
        return;
    }
  }

  #spawnFor(h: ThreadHandle, req: number, spec: DelegatedSpawn): void {
    let started: Promise<Pid | Ignore>;
    try {
      started = this.boot(spec.url, spec, spec.start).start!.promise;
    } catch (e) {
      // new Worker refused the options (e.g. an unknown execArgv flag)
      started = Promise.reject(e);
    }
    started.then(
      (r) => {
        if (h.alive)
          h.sender.control(r === IGNORE ? { k: 'spawn_ignored', req } : { k: 'spawned', req, pid: r });
      },
      (e: unknown) => {
        if (!h.alive) return;
        const r = e instanceof InitFailedError ? encodeReason(e.reason) : undefined;
        h.sender.control({ k: 'spawn_failed', req, e: serializeError(e), r });
      },
    );
  }

  #onExit(h: ThreadHandle, code: number): void {
    const reason = this.#reasonOf(h, code);
    h.state = 'dead';
    this.threads.delete(h.id);
    const rootReason = h.rootReason ?? reason;
    h.start?.reject(new InitFailedError(rootReason));
    h.ready.resolve(false);
    // A thread that ended in order has already reported its processes' ends; whatever still points
    // at it (a link or monitor that crossed the `exiting` on the way) points at processes that no
    // longer exist.
    const down = h.rootReason !== undefined ? Exit.noproc : reason;
    // The thread's names are gone with it (its exiting processes may not have said so).
    for (const [name, pid] of [...this.#directory]) {
      if (nodeOf(pid) !== h.id) continue;
      this.#directory.delete(name);
      if (this.node.remoteNames.get(name) === pid) this.node.remoteNames.delete(name);
      this.#broadcastName('unreg', name, pid, h.id);
    }
    this.node.nodeDown(h.id, down);
    const encoded = encodeReason(down);
    for (const other of this.threads.values()) {
      if (other.state !== 'dead') other.sender.signal(other.id, { t: 'nodedown', node: h.id, r: encoded });
    }
    h.exited.resolve(rootReason);
  }

  #reasonOf(h: ThreadHandle, code: number): ExitReason {
    if (h.killed) return Exit.killed;
    if (h.rootReason !== undefined) return h.rootReason;
    const err = h.crash?.error;
    if (h.crash !== undefined && (err as { code?: unknown } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return Exit.error(new ThreadOutOfMemoryError(h.id, h.url, h.limits, err));
    }
    if (h.crash !== undefined) return Exit.error(new ThreadUncaughtError(h.id, h.url, err));
    return Exit.error(new ThreadExitError(h.id, h.url, code));
  }
}

let hub: ThreadHub | undefined;

/** The main thread's hub (created, and installed as the main node's router, on first use). */
export function threadHub(): ThreadHub {
  if (hub === undefined) hub = new ThreadHub(currentNode());
  return hub;
}

/** Number of threads started here that have not ended yet (warm spares included). */
export function liveThreads(): number {
  return hub === undefined ? 0 : hub.threads.size;
}
