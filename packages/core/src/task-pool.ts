/**
 * The task pool: a piscina pool owned by a supervised gen_server process, for stateless CPU work.
 *
 * The process exists for supervision only: it links to its supervisor, traps exits so the
 * supervisor's shutdown grace applies, and its exit (for any reason) is what rejects the tasks still
 * in flight and destroys piscina. Tasks never go through its mailbox: `runTask` finds the pool in a
 * per-thread table (keyed by pid and by registered name) and calls piscina directly, so the cost of
 * supervision is a Map lookup and a little bookkeeping per task.
 *
 * Every task settles exactly once. It is resolved or rejected by the first of: its result, its
 * time-out, its AbortSignal, the death of its thread, the exit of the pool process. Cancellation
 * settles the caller's promise at once and then aborts the piscina task, whose own (later) rejection
 * is ignored; so the code a caller sees never depends on which of two racing events piscina saw first.
 */
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { StartFn } from './child-spec.js';
import type { Clock, TimerHandle } from './clock.js';
import { deserializeError, type SerializedError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { defineServer, noreply, reply, type ServerContext, startServer, stop } from './gen-server.js';
import { currentNode, type Node } from './node.js';
import { isPid, nodeOf, type Pid } from './pid.js';
import type { ExitMessage } from './process.js';
import {
  InvalidTaskPoolOptionsError,
  TaskAbortedError,
  TaskFailedError,
  TaskNotCloneableError,
  TaskPoolNoProcError,
  TaskPoolStoppedError,
  TaskQueueFullError,
  TaskTimeoutError,
  TaskWorkerDiedError,
} from './task-pool-errors.js';
import {
  assertTaskModuleExists,
  type NormalizedTaskPoolOptions,
  normalizeTaskPoolOptions,
  type TaskPoolOptions,
} from './task-pool-options.js';
import { TASK_FAILED_KEY, TASK_POOL_WORKER_DATA_KEY } from './task-pool-protocol.js';

export * from './task-pool-errors.js';
export { TASK_POOL_DEFAULTS, type TaskPoolOptions } from './task-pool-options.js';

export interface RunTaskOptions {
  /** Cancel the task after this many ms from submission (queue wait included); overrides the pool's taskTimeoutMs. */
  readonly timeoutMs?: number;
  /** Cancel the task when this signal fires (rejects with ERR_TASK_ABORTED). */
  readonly signal?: AbortSignal;
  /** ArrayBuffers / MessagePorts to move into the thread instead of copying. */
  readonly transferList?: readonly (ArrayBuffer | MessagePort | ArrayBufferView)[];
}

export interface TaskPoolStats {
  readonly pid: Pid;
  readonly name: string | undefined;
  /** running; draining (shutting down: finishing in-flight tasks, refusing new ones); stopped. */
  readonly state: 'running' | 'draining' | 'stopped';
  /** Tasks that returned a result. */
  readonly completed: number;
  /** Tasks rejected for any reason (the four counts below are part of it). */
  readonly failed: number;
  readonly timedOut: number;
  readonly aborted: number;
  /** Tasks whose thread died under them. */
  readonly workerDied: number;
  /** Threads that died with no task to blame (e.g. an uncaught exception after a task had finished). */
  readonly threadErrors: number;
  /** Tasks accepted and not yet settled (queued or running). */
  readonly inFlight: number;
  /** Tasks waiting for a thread. */
  readonly queueSize: number;
  readonly threads: number;
}

/** The pools of this thread (module state is per thread), by pid and by registered name. */
const pools = new Map<string, TaskPool>();

// piscina 5.3.2 rejects with these messages when its queue is full (errors.js); pinned dependency.
const QUEUE_FULL_MESSAGES = new Set(['Task queue is at limit', 'No task queue available and all Workers are busy']);
const WORKER_URL = new URL('./task-pool-worker.js', import.meta.url).href;
const NO_RUN_OPTIONS = Object.freeze({});

class PendingTask {
  done = false;
  timer: TimerHandle | undefined = undefined;
  ac: AbortController | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  constructor(
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
  ) {}
}

/** @internal the pool state shared by runTask (hot path) and the pool process (lifecycle). */
class TaskPool {
  readonly pid: Pid;
  readonly name: string | undefined;
  readonly label: string;
  readonly piscina: Piscina;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly maxQueue: number | 'auto';
  readonly inFlight = new Set<PendingTask>();
  state: 'running' | 'draining' | 'stopped' = 'running';
  completed = 0;
  failed = 0;
  timedOut = 0;
  aborted = 0;
  workerDied = 0;
  threadErrors = 0;
  #drained: (() => void) | undefined;
  #destroyed: Promise<void> | undefined;

  constructor(pid: Pid, node: Node, o: NormalizedTaskPoolOptions, clock: Clock) {
    this.pid = pid;
    this.name = o.name;
    this.label = o.name === undefined ? pid : `"${o.name}" (${pid})`;
    this.clock = clock;
    this.timeoutMs = o.taskTimeoutMs;
    this.maxQueue = o.maxQueue;
    this.piscina = new Piscina({
      filename: WORKER_URL,
      minThreads: o.minThreads,
      maxThreads: o.maxThreads,
      idleTimeout: o.idleTimeout,
      maxQueue: o.maxQueue,
      concurrentTasksPerWorker: o.concurrentTasksPerWorker,
      ...(o.resourceLimits === undefined ? {} : { resourceLimits: o.resourceLimits }),
      workerData: { [TASK_POOL_WORKER_DATA_KEY]: { url: o.url } },
    });
    // piscina emits 'error' for a thread that died with no task on it; unhandled, that event would
    // throw in this thread. The thread is already replaced, so count it and go on.
    this.piscina.on('error', () => {
      this.threadErrors++;
    });
    pools.set(pid, this);
    if (o.name !== undefined) pools.set(o.name, this);
    // A callback monitor fires synchronously inside the process's exit, whatever the reason (even an
    // untrappable kill, which skips terminate): the one place where in-flight tasks are failed.
    node.monitor((reason) => this.#onExit(reason), pid);
  }

  run(task: unknown, opts: RunTaskOptions | undefined): Promise<unknown> {
    if (this.state !== 'running') return Promise.reject(new TaskPoolStoppedError(this.label, undefined));
    const timeoutMs = opts?.timeoutMs ?? this.timeoutMs;
    const signal = opts?.signal;
    const transferList = opts?.transferList;
    if (opts !== undefined) {
      const bad = badRunOptions(opts, timeoutMs);
      if (bad) return Promise.reject(bad);
      if (signal?.aborted) {
        this.failed++;
        this.aborted++;
        return Promise.reject(new TaskAbortedError(this.label, signal.reason));
      }
    }
    return new Promise((resolve, reject) => {
      const t = new PendingTask(resolve, reject);
      this.inFlight.add(t);
      let runOpts: { signal?: AbortSignal; transferList?: any } = NO_RUN_OPTIONS;
      if (timeoutMs !== Number.POSITIVE_INFINITY || signal !== undefined) {
        const ac = new AbortController();
        t.ac = ac;
        if (timeoutMs !== Number.POSITIVE_INFINITY) t.timer = this.clock.setTimeout(() => this.#timeout(t, timeoutMs), timeoutMs);
        if (signal !== undefined) {
          t.signal = signal;
          t.onAbort = () => this.#abort(t);
          signal.addEventListener('abort', t.onAbort, { once: true });
        }
        runOpts = { signal: ac.signal };
      }
      if (transferList !== undefined) runOpts = { ...runOpts, transferList };
      this.piscina.run(task, runOpts).then(
        (r) => this.#ok(t, r),
        (e) => this.#err(t, e),
      );
    });
  }

  #finish(t: PendingTask): void {
    t.done = true;
    this.inFlight.delete(t);
    if (t.timer !== undefined) this.clock.clearTimeout(t.timer);
    if (t.onAbort !== undefined) t.signal!.removeEventListener('abort', t.onAbort);
    if (this.#drained !== undefined && this.inFlight.size === 0) {
      const d = this.#drained;
      this.#drained = undefined;
      d();
    }
  }

  #ok(t: PendingTask, r: unknown): void {
    if (t.done) return;
    this.#finish(t);
    if (r !== null && typeof r === 'object' && TASK_FAILED_KEY in r) {
      this.failed++;
      const cause = deserializeError((r as Record<string, SerializedError>)[TASK_FAILED_KEY]!);
      t.reject(new TaskFailedError(this.label, cause));
      return;
    }
    this.completed++;
    t.resolve(r);
  }

  #err(t: PendingTask, e: unknown): void {
    if (t.done) return;
    this.#finish(t);
    this.failed++;
    // The wrapper (task-pool-worker.ts) turns every error of the task's own code into a result, so a
    // rejection here is piscina refusing the task, a task it could not post, or a dead thread.
    const message = (e as Error | undefined)?.message;
    if (message !== undefined && QUEUE_FULL_MESSAGES.has(message)) {
      t.reject(new TaskQueueFullError(this.label, this.maxQueue));
    } else if ((e as Error | undefined)?.name === 'DataCloneError') {
      t.reject(new TaskNotCloneableError(this.label, e));
    } else {
      this.workerDied++;
      t.reject(new TaskWorkerDiedError(this.label, e));
    }
  }

  #timeout(t: PendingTask, ms: number): void {
    if (t.done) return;
    t.timer = undefined;
    this.#finish(t);
    this.failed++;
    this.timedOut++;
    const err = new TaskTimeoutError(this.label, ms);
    t.reject(err);
    // Aborting makes piscina drop the task from its queue, or terminate (and replace) its thread.
    t.ac!.abort(err);
  }

  #abort(t: PendingTask): void {
    if (t.done) return;
    this.#finish(t);
    this.failed++;
    this.aborted++;
    const reason = t.signal!.reason;
    t.reject(new TaskAbortedError(this.label, reason));
    t.ac!.abort(reason);
  }

  /** terminate: finish the tasks in flight (the supervisor's grace bounds this), then stop the threads. */
  async drainAndDestroy(): Promise<void> {
    if (this.state === 'running') this.state = 'draining';
    if (this.inFlight.size > 0) await new Promise<void>((r) => (this.#drained = r));
    await this.destroy();
  }

  destroy(): Promise<void> {
    this.#destroyed ??= this.piscina.destroy().catch(() => undefined);
    return this.#destroyed;
  }

  #onExit(reason: ExitReason): void {
    this.state = 'stopped';
    if (pools.get(this.pid) === this) pools.delete(this.pid);
    if (this.name !== undefined && pools.get(this.name) === this) pools.delete(this.name);
    const left = [...this.inFlight];
    for (const t of left) {
      this.#finish(t);
      this.failed++;
      t.reject(new TaskPoolStoppedError(this.label, reason));
    }
    // The drain waiter may belong to a terminate that was cut short by a kill: release it.
    this.#drained?.();
    this.#drained = undefined;
    void this.destroy();
  }

  stats(): TaskPoolStats {
    return {
      pid: this.pid,
      name: this.name,
      state: this.state,
      completed: this.completed,
      failed: this.failed,
      timedOut: this.timedOut,
      aborted: this.aborted,
      workerDied: this.workerDied,
      threadErrors: this.threadErrors,
      inFlight: this.inFlight.size,
      queueSize: this.piscina.queueSize,
      threads: this.piscina.threads.length,
    };
  }
}

function badRunOptions(opts: RunTaskOptions, timeoutMs: number): InvalidTaskPoolOptionsError | undefined {
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
    return new InvalidTaskPoolOptionsError(`runTask option timeoutMs is ${String(timeoutMs)}; use milliseconds > 0, or Infinity for none`, {
      field: 'timeoutMs',
    });
  }
  if (opts.signal !== undefined && (typeof opts.signal !== 'object' || typeof opts.signal.addEventListener !== 'function')) {
    return new InvalidTaskPoolOptionsError('runTask option signal is not an AbortSignal; pass AbortController.signal or AbortSignal.timeout(ms)', {
      field: 'signal',
    });
  }
  if (opts.transferList !== undefined && !Array.isArray(opts.transferList)) {
    return new InvalidTaskPoolOptionsError('runTask option transferList is not an array; pass an array of ArrayBuffers or MessagePorts', {
      field: 'transferList',
    });
  }
  return undefined;
}

function isExitMessage(m: unknown): m is ExitMessage {
  return (m as ExitMessage | null)?.type === 'EXIT';
}

const poolServer = defineServer<TaskPool, [NormalizedTaskPoolOptions, Clock]>({
  init(ctx: ServerContext, o, clock) {
    return new TaskPool(ctx.self, ctx.node, o, clock);
  },
  handleCall(request: unknown, _from, pool) {
    // Lets another thread read the stats (runTask itself is local to the pool's thread).
    return reply(request === 'stats' ? pool.stats() : undefined, pool);
  },
  handleInfo(msg: unknown, pool) {
    // The parent's EXIT is handled by gen_server itself; an exit signal from anyone else (trapped
    // into a message) stops the pool the same way, unless it is `normal`.
    if (isExitMessage(msg) && msg.reason.type !== 'normal') return stop(msg.reason, pool);
    return noreply(pool);
  },
  async terminate(reason, pool) {
    // Only an orderly stop waits for the tasks in flight; after a crash they are failed at once (by
    // the exit monitor) so callers learn of it without waiting.
    if (reason.type === 'shutdown' || reason.type === 'normal') await pool.drainAndDestroy();
  },
});

/**
 * A start function for a supervised task pool. Use it as the `start` of a child spec; give the spec
 * a `shutdown` grace long enough for the tasks you want finished on an orderly stop.
 */
export function taskPoolChild(opts: TaskPoolOptions): StartFn {
  const o = normalizeTaskPoolOptions(opts);
  return (ctx) => {
    try {
      assertTaskModuleExists(o);
    } catch (e) {
      return Promise.reject(e);
    }
    return startServer(
      poolServer,
      [o, o.clock ?? ctx.clock],
      { link: ctx.parent, parent: ctx.parent, name: o.name, trapExit: true, clock: ctx.clock },
      ctx.node,
    );
  };
}

function lookup(pool: Pid | string): TaskPool | TaskPoolNoProcError {
  const p = pools.get(pool);
  if (p !== undefined) return p;
  if (isPid(pool)) {
    const here = currentNode().id;
    if (nodeOf(pool) !== here) {
      return new TaskPoolNoProcError(
        pool,
        `it lives in thread ${nodeOf(pool)}, and runTask reaches only pools started in the calling thread (${here}); run the task from that thread, or start a pool in this one`,
      );
    }
    return new TaskPoolNoProcError(pool, 'no task pool with this pid is running (it has exited); address the pool by its registered name so a restarted pool is found');
  }
  return new TaskPoolNoProcError(
    `"${pool}"`,
    'no task pool is registered under that name in this thread. Start it first (is it a child of a running supervisor, or being restarted?) or check the name',
  );
}

/**
 * Runs `task` on a pool of this thread (by registered name or pid); resolves with the task's result.
 * Rejects with ERR_TASK_FAILED, ERR_TASK_TIMEOUT, ERR_TASK_ABORTED, ERR_TASK_WORKER_DIED,
 * ERR_TASK_QUEUE_FULL, ERR_TASK_POOL_STOPPED or ERR_NOPROC (see docs/task-pool.md).
 */
export function runTask<R = unknown>(pool: Pid | string, task: unknown, opts?: RunTaskOptions): Promise<R> {
  const p = pools.get(pool) ?? lookup(pool);
  if (p instanceof TaskPoolNoProcError) return Promise.reject(p);
  return p.run(task, opts) as Promise<R>;
}

/** A snapshot of a pool's counters (this thread only; from another thread, `call(pool, 'stats')`). */
export function taskPoolStats(pool: Pid | string): TaskPoolStats {
  const p = lookup(pool);
  if (p instanceof TaskPoolNoProcError) throw p;
  return p.stats();
}
