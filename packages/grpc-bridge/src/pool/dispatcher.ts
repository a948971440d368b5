/**
 * The dispatcher: which worker runs a call, and where a call waits when none can.
 *
 * It is a plain object in the pool's thread, not an actor: every call would otherwise pay two
 * message hops, and all its state changes are synchronous (no await between reading and writing
 * it), so the single thread already serialises them the way a process mailbox would.
 *
 *   - Workers join when ready (`add`), stop taking calls when draining (`drain`) and leave when
 *     their process exits (`gone`), which fails their in-flight calls at once.
 *   - A call takes a place on a worker (`tryAcquire`, or `enqueue` to wait) and gives it back with
 *     `release`. The choice of worker is the selector's (pool/selection.ts).
 *   - The queue is FIFO and bounded (`maxQueue`: one more is ERR_POOL_SATURATED at once). A waiting
 *     call leaves it when a worker takes it, when its wait limit passes (ERR_QUEUE_TIMEOUT) or when
 *     its AbortSignal fires (ERR_CANCELLED); the latter two are removed lazily (marked, skipped).
 *   - A retry goes to the front: it has waited once already.
 *
 * Names, one per concept (and one concept per name):
 *   - a *slot* is a worker's position in the pool (0..size-1, kept across restarts and recycles);
 *   - a *PythonWorker* (worker/python-worker.ts) is the actor that owns a slot and launches its
 *     processes, one after another;
 *   - a *WorkerHandle* (worker/worker-handle.ts) is one such process as the pool reads it: a local
 *     WorkerProcess, or a RemoteWorker that an agent runs on another node;
 *   - a *PoolWorker* (here) is one process taking calls, as the dispatcher counts it: its `id` is the
 *     `workerId` of events and stats, and `WorkerView` is what the selector sees of it (a recycle
 *     gives the slot a new process, so a new PoolWorker);
 *   - a *place* is one of the `maxConcurrentPerWorker` calls a PoolWorker may run at once, and a
 *     *PlaceRequest* is a call asking for one (with the workers it avoids, its session, its affinity).
 */
import type { Clock, TimerHandle } from '@trellis/core';
import {
  PoolClosedError,
  PoolSaturatedError,
  QueueTimeoutError,
  SessionWorkerGoneError,
  ToolCallError,
  WorkerBusyError,
  type WorkerExit,
} from '../errors.js';
import type { WorkerHandle } from '../worker/worker-handle.js';
import type { AffinityMode } from './options.js';
import type { SelectionRequest, WorkerSelector, WorkerView } from './selection.js';
import type { Session } from './sessions.js';
import { LatencyWindow } from './stats.js';

/** A call running on a worker; told when the worker's process exits under it. */
export interface InFlightCall {
  /** The tool it runs: charged with the crash if the worker dies of one (quarantine). */
  readonly tool?: string;
  onWorkerExit(exit: WorkerExit): void;
}

/**
 * A worker's life as the dispatcher sees it: `ready` (takes calls) → `draining` (finishes the calls
 * it has, takes no new ones) → `gone` (its process exited). Only `transition` changes it.
 */
export type WorkerState = 'ready' | 'draining' | 'gone';

/** One process taking calls, as the dispatcher counts it (see the names above). */
export class PoolWorker implements WorkerView {
  inFlight = 0;
  served = 0;
  /** Abandoned executions its last heartbeat reported (tools holding a place after their call ended). */
  reportedAbandoned = 0;
  /**
   * Calls on it that ended by deadline or cancellation since the heartbeat in flight was sent: their
   * tools may still hold their places (a tool that ignores cancellation), which only the next
   * heartbeat can tell. Counted as load until then, so no call is sent into a place that may be stuck.
   */
  suspect = 0;
  /** Calls ever counted in `suspect` (the heartbeat notes it when sent, to settle those before). */
  suspectRaised = 0;
  /** Told when a call becomes suspect: the worker asks for an early heartbeat. */
  onSuspect: (() => void) | undefined;
  #state: WorkerState = 'ready';
  /** Set once the worker was told to drain (a shutdown), so calls cut short by it can say so. */
  drained = false;
  readonly calls = new Set<InFlightCall>();
  /** RSS of the Python process (from /proc at its last heartbeat), in bytes. */
  rssBytes: number | undefined;
  /** CPU time (user + system) of the Python process at its last heartbeat, in seconds. */
  cpuSeconds: number | undefined;
  /** Wall-clock time of its last answered heartbeat (ms since the epoch). */
  lastHeartbeatAt: number | undefined;
  /** Wall-clock time it joined the dispatcher. */
  readonly readyAt = Date.now();
  /** Calls that failed on it. */
  failed = 0;
  /** The PythonWorker actor that owns the process (how the observer joins it to the tree). */
  actorPid: string | undefined;
  /** Latencies (ms) of its last finished calls, for the observer's per-worker p50/p99. */
  readonly latency = new LatencyWindow(256);
  /** Calls handed to it so far. */
  dispatched = 0;
  /** When `dispatched` reaches this, `onLimit` is called once (recycling by maxCalls). */
  maxDispatched = Number.POSITIVE_INFINITY;
  onLimit: (() => void) | undefined;
  #idle: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly slot: number,
    readonly capacity: number,
    readonly process: WorkerHandle,
  ) {}

  get pid(): number {
    return this.process.pid;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /**
   * The one place the state changes, as grpc-js's `transitionToState(oldStates, newState)`: moves to
   * `to` only from one of `from`, and says whether it did. A second drain, or a drain of a worker
   * already gone, is then a no-op by construction rather than by a check at each caller.
   */
  transition(from: readonly WorkerState[], to: WorkerState): boolean {
    if (!from.includes(this.#state)) return false;
    this.#state = to;
    return true;
  }

  /** Slots taken by executions whose call is over (reported or suspected): load that is not inFlight. */
  get abandoned(): number {
    return this.reportedAbandoned + this.suspect;
  }

  /** Calls it can take now. */
  get free(): number {
    return this.capacity - this.inFlight - this.reportedAbandoned - this.suspect;
  }

  get client(): WorkerHandle['client'] {
    return this.process.client;
  }

  /** Resolves once no call runs on this worker (at once if none does). */
  whenIdle(): Promise<void> {
    if (this.inFlight <= 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /** @internal called by the dispatcher when the last call on a draining or gone worker ends. */
  notifyIdle(): void {
    for (const r of this.#idle.splice(0)) r();
  }
}

/** A call's request for a place on a worker. */
export interface PlaceRequest extends SelectionRequest {
  /** Ids of workers this attempt must avoid (the one whose death failed the first attempt). */
  readonly exclude: ReadonlySet<number> | undefined;
  /** The call's session, whose worker it prefers (or must use: see `affinity`). */
  readonly session?: Session | undefined;
  readonly affinity?: AffinityMode | undefined;
}

export interface EnqueueOptions {
  /** Longest wait, ms (already the smaller of queueTimeoutMs and the call's remaining budget). */
  readonly waitMs: number;
  /** The queue limit reported by ERR_QUEUE_TIMEOUT. */
  readonly limitMs: number;
  readonly signal: AbortSignal | undefined;
  readonly front: boolean;
}

interface Waiter {
  readonly req: PlaceRequest;
  readonly resolve: (w: PoolWorker) => void;
  readonly reject: (e: unknown) => void;
  readonly at: number;
  timer: TimerHandle | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  done: boolean;
}

export interface DispatcherOptions {
  readonly pool: string;
  readonly maxQueue: number;
  readonly selector: WorkerSelector;
  readonly clock: Clock;
  readonly onQueueFull: (tool: string, depth: number) => void;
  /** A worker's process exited; `tools` were running on it. */
  readonly onWorkerGone?: (w: PoolWorker, exit: WorkerExit, tools: string[]) => void;
}

export class Dispatcher {
  readonly #o: DispatcherOptions;
  /** Workers that take calls (state 'ready'). */
  readonly #ready: PoolWorker[] = [];
  /** Every worker with a live process, draining ones included. */
  readonly #all = new Map<number, PoolWorker>();
  #queue: Waiter[] = [];
  #head = 0;
  #live = 0;
  #closed: PoolClosedError | undefined;

  constructor(o: DispatcherOptions) {
    this.#o = o;
    this.#closed = new PoolClosedError(o.pool, 'not started yet');
  }

  // ---- workers ------------------------------------------------------------------------------------

  add(w: PoolWorker): void {
    this.#all.set(w.id, w);
    this.#ready.push(w);
    this.#pump();
  }

  /** Takes no new calls; calls in flight go on (the drain). */
  drain(w: PoolWorker): void {
    if (!w.transition(['ready'], 'draining')) return;
    w.drained = true;
    this.#unready(w);
  }

  /** The process exited: every call still on it fails now, with the exit code or signal. */
  gone(w: PoolWorker, exit: WorkerExit): void {
    const wasReady = w.state === 'ready';
    if (!w.transition(['ready', 'draining'], 'gone')) return;
    if (wasReady) this.#unready(w);
    this.#all.delete(w.id);
    const calls = [...w.calls];
    if (this.#o.onWorkerGone) {
      const tools: string[] = [];
      for (const c of calls) if (c.tool !== undefined && !tools.includes(c.tool)) tools.push(c.tool);
      this.#o.onWorkerGone(w, exit, tools);
    }
    for (const c of calls) c.onWorkerExit(exit);
    w.calls.clear();
    w.notifyIdle();
  }

  #unready(w: PoolWorker): void {
    const i = this.#ready.indexOf(w);
    if (i >= 0) this.#ready.splice(i, 1);
  }

  /** A worker with a live process, by id. */
  worker(id: number): PoolWorker | undefined {
    return this.#all.get(id);
  }

  /** Workers with a live process. */
  workers(): PoolWorker[] {
    return [...this.#all.values()];
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  // ---- places --------------------------------------------------------------------------------------

  /**
   * A worker with a free place, taken, or undefined. Never jumps the queue: while calls wait, a new
   * call waits behind them.
   */
  tryAcquire(req: PlaceRequest): PoolWorker | undefined {
    if (this.#closed !== undefined) throw this.#closed;
    if (this.#live > 0) return undefined;
    return this.#take(req);
  }

  /** Waits in the queue for a worker; see the module comment for how the wait ends. */
  enqueue(req: PlaceRequest, o: EnqueueOptions): Promise<PoolWorker> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    if (this.#live >= this.#o.maxQueue) {
      this.#o.onQueueFull(req.tool, this.#live);
      return Promise.reject(new PoolSaturatedError(this.#o.pool, req.tool, this.#o.maxQueue));
    }
    return new Promise<PoolWorker>((resolve, reject) => {
      const w: Waiter = {
        req,
        resolve,
        reject,
        at: this.#o.clock.now(),
        timer: undefined,
        signal: undefined,
        onAbort: undefined,
        done: false,
      };
      if (o.signal) {
        if (o.signal.aborted) {
          reject(cancelledWhileQueued(req.tool, o.signal.reason));
          return;
        }
        w.signal = o.signal;
        w.onAbort = () => this.#drop(w, cancelledWhileQueued(req.tool, o.signal?.reason));
        o.signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (Number.isFinite(o.waitMs)) {
        w.timer = this.#o.clock.setTimeout(
          () =>
            this.#drop(
              w,
              new QueueTimeoutError(this.#o.pool, req.tool, this.#o.clock.now() - w.at, o.limitMs),
            ),
          Math.max(0, o.waitMs),
        );
      }
      if (o.front) {
        // Rare (retries only): rebuild the live part with this one first.
        this.#queue = [w, ...this.#queue.slice(this.#head)];
        this.#head = 0;
      } else this.#queue.push(w);
      this.#live++;
      this.#pump();
    });
  }

  /**
   * Gives a place back and hands it to the next waiting call. `suspect`: the call ended by deadline or
   * cancellation, so its tool may still hold the worker's place; it counts as load until the worker's
   * next heartbeat says (see PoolWorker.suspect).
   */
  release(w: PoolWorker, suspect = false): void {
    w.inFlight--;
    if (suspect && w.state === 'ready') {
      w.suspect++;
      w.suspectRaised++;
      w.onSuspect?.();
      return;
    }
    if (w.state === 'ready') {
      if (this.#live > 0) this.#pump();
    } else if (w.inFlight <= 0) w.notifyIdle();
  }

  /**
   * A heartbeat answered: `abandoned` executions hold places on `w`, and the suspects raised before
   * the heartbeat was sent (`suspectRaisedAtSend` of them ever) are settled by it.
   */
  setAbandoned(w: PoolWorker, abandoned: number, suspectRaisedAtSend: number): void {
    const before = w.free;
    w.reportedAbandoned = abandoned;
    w.suspect = w.suspectRaised - suspectRaisedAtSend;
    if (w.state === 'ready' && w.free > before && this.#live > 0) this.#pump();
  }

  get queueDepth(): number {
    return this.#live;
  }

  // ---- open / close --------------------------------------------------------------------------------

  open(): void {
    this.#closed = undefined;
  }

  /** Fails every waiting call with `err`; new calls fail with it until `open()`. */
  close(err: PoolClosedError): void {
    this.#closed = err;
    const q = this.#queue;
    const head = this.#head;
    this.#queue = [];
    this.#head = 0;
    for (let i = head; i < q.length; i++) this.#drop(q[i]!, err);
  }

  get closedError(): PoolClosedError | undefined {
    return this.#closed;
  }

  // ---- internals -----------------------------------------------------------------------------------

  #candidates(req: PlaceRequest): readonly PoolWorker[] {
    const ex = req.exclude;
    if (ex === undefined || ex.size === 0) return this.#ready;
    return this.#ready.filter((w) => !ex.has(w.id));
  }

  #take(req: PlaceRequest): PoolWorker | undefined {
    const s = req.session;
    if (s !== undefined && s.workerId !== undefined) {
      const bound = this.#affine(req, s);
      if (bound === null) return undefined;
      if (bound !== undefined) return this.#use(bound);
    }
    const candidates = this.#candidates(req);
    if (candidates.length === 0) return undefined;
    const picked = this.#o.selector(candidates, req) as PoolWorker | undefined;
    // A selector may only pick among the candidates, and only one with a free place.
    if (picked === undefined || picked.free <= 0 || picked.state !== 'ready') return undefined;
    if (s !== undefined && (s.workerId === undefined || s.lost !== undefined)) {
      // First call of the session (or a hint-mode session whose worker left): bind it here.
      s.workerId = picked.id;
      s.workerPid = picked.pid;
      s.lost = undefined;
    }
    return this.#use(picked);
  }

  #use(w: PoolWorker): PoolWorker {
    w.inFlight++;
    if (++w.dispatched === w.maxDispatched) {
      // Its last call: from now on it takes none (so maxCalls is exact), finishes what it has, and
      // is replaced (onLimit starts the fresh process).
      this.drain(w);
      w.drained = false;
      w.onLimit?.();
    }
    return w;
  }

  /**
   * Affinity for a bound session: its worker when it has a free place; otherwise `undefined` to let
   * the selector pick any worker (hint), `null` to keep waiting (strict-queue), or a throw
   * (strict-fail-fast busy: ERR_WORKER_BUSY; any strict mode with the worker gone:
   * ERR_SESSION_WORKER_GONE, never routed elsewhere since the session's state died with it).
   */
  #affine(req: PlaceRequest, s: Session): PoolWorker | undefined | null {
    const mode = req.affinity ?? 'hint';
    const w = s.lost === undefined ? this.#all.get(s.workerId!) : undefined;
    if (w === undefined || w.state !== 'ready' || req.exclude?.has(w.id)) {
      if (mode === 'hint') return undefined;
      throw new SessionWorkerGoneError(
        this.#o.pool,
        req.tool,
        s.id,
        s.workerPid ?? 0,
        s.lost ?? (w?.state === 'draining' ? 'is being recycled or shut down' : 'exited'),
      );
    }
    if (w.free > 0) return w;
    if (mode === 'hint') return undefined;
    if (mode === 'strict-queue') return null;
    throw new WorkerBusyError(this.#o.pool, req.tool, s.id, w.pid);
  }

  /**
   * Before a call queues: a strict session whose worker is gone or (fail-fast) busy fails now,
   * rather than after waiting behind other calls.
   */
  checkAffinity(req: PlaceRequest): void {
    const s = req.session;
    if (s === undefined || s.workerId === undefined || (req.affinity ?? 'hint') === 'hint') return;
    if (this.#closed !== undefined) throw this.#closed;
    this.#affine(req, s);
  }

  #freePlaces(): number {
    let free = 0;
    for (const w of this.#ready) free += Math.max(0, w.free);
    return free;
  }

  /** Hands free places to waiting calls, in queue order; bounded by the queue's length. */
  #pump(): void {
    if (this.#live === 0) return;
    const q = this.#queue;
    for (let i = this.#head; i < q.length && this.#live > 0; i++) {
      if (this.#freePlaces() === 0) break;
      const w = q[i]!;
      if (w.done) continue;
      let picked: PoolWorker | undefined;
      try {
        picked = this.#take(w.req);
      } catch (e) {
        this.#drop(w, e);
        continue;
      }
      if (picked === undefined) continue;
      this.#finish(w);
      w.resolve(picked);
    }
    this.#compact();
  }

  #drop(w: Waiter, err: unknown): void {
    if (w.done) return;
    this.#finish(w);
    w.reject(err);
    this.#compact();
  }

  #finish(w: Waiter): void {
    w.done = true;
    this.#live--;
    if (w.timer !== undefined) this.#o.clock.clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
  }

  #compact(): void {
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.done) this.#head++;
    if (this.#head === q.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }
}

function cancelledWhileQueued(tool: string, reason: unknown): ToolCallError {
  return new ToolCallError(
    'ERR_CANCELLED',
    `call to "${tool}" was cancelled by its AbortSignal while it waited in the queue; it never reached a worker`,
    { tool },
    reason,
  );
}
