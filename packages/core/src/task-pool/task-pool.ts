/**
 * The task pool: a piscina pool owned by a supervised gen_server process, for stateless CPU work.
 *
 * The process exists for supervision only: it links to its supervisor, traps exits so the
 * supervisor's shutdown grace applies, and its exit (for any reason) is what rejects the tasks still
 * in flight and destroys piscina. Tasks never go through its mailbox: `runTask` finds the pool in a
 * per-thread table (keyed by pid and by registered name) and calls piscina directly, so the cost of
 * supervision is a Map lookup and a little bookkeeping per task.
 *
 * Every task's promise is derived from piscina's, so it settles exactly once, by the first event
 * piscina sees: its result, its time-out or AbortSignal (piscina rejects synchronously on abort),
 * the death of its thread, or the exit of the pool process (which destroys piscina, rejecting every
 * task synchronously). The error is chosen from the pool's state and the task's signal at that
 * moment (#fail), never from piscina's message alone.
 *
 * piscina is loaded when the first pool of a thread starts, not with the package: every module that
 * imports `@trellis/core` (a thread actor's among them) would otherwise pay for loading it.
 */
import type { Piscina } from 'piscina';
import { match, P } from 'ts-pattern';
import { call } from '../actor.js';
import type { Clock } from '../clock.js';
import { deserializeError, type SerializedError, serializeError } from '../errors.js';
import type { ExitReason } from '../exit-reason.js';
import type { Ignore, ServerContext } from '../gen.js';
import { defineServer, noreply, reply, startServer, stop } from '../gen-server.js';
import { currentNode, type Node } from '../node.js';
import { isPid, nodeOf, type Pid } from '../pid.js';
import type { ExitMessage } from '../process.js';
import type { StartFn } from '../supervisor/child-spec.js';
import {
  TaskAbortedError,
  TaskFailedError,
  TaskNotCloneableError,
  TaskPoolNoProcError,
  TaskPoolStoppedError,
  TaskQueueFullError,
  TaskTimeoutError,
  TaskWorkerDiedError,
} from './errors.js';
import {
  assertTaskModuleExists,
  badRunOptions,
  type NormalizedTaskPoolOptions,
  normalizeTaskPoolOptions,
  type RunTaskOptions,
  type TaskPoolOptions,
} from './options.js';
import { TASK_FAILED_KEY, TASK_POOL_WORKER_DATA_KEY } from './protocol.js';

export * from './errors.js';
export { type RunTaskOptions, TASK_POOL_DEFAULTS, type TaskPoolOptions } from './options.js';

/** A pool's counters: the pool counts in this record and its stats report it as it is. */
interface TaskCounts {
  /** Tasks that returned a result. */
  completed: number;
  /** Tasks rejected for any reason (the four counts below are part of it). */
  failed: number;
  timedOut: number;
  aborted: number;
  /** Tasks whose thread died under them. */
  workerDied: number;
  /** Threads that died with no task to blame (e.g. an uncaught exception after a task had finished). */
  threadErrors: number;
}

export interface TaskPoolStats extends Readonly<TaskCounts> {
  readonly pid: Pid;
  readonly name: string | undefined;
  /** running; draining (shutting down: finishing in-flight tasks, refusing new ones); stopped. */
  readonly state: 'running' | 'draining' | 'stopped';
  /** Tasks accepted and not yet settled (queued or running). */
  readonly inFlight: number;
  /** Tasks waiting for a thread. */
  readonly queueSize: number;
  readonly threads: number;
}

/** The pools of this thread (module state is per thread), by pid and by registered name. */
const pools = new Map<string, TaskPool>();

// piscina 5.3.2 rejects with these messages when its queue is full (errors.js); pinned dependency.
const QUEUE_FULL_MESSAGES = new Set([
  'Task queue is at limit',
  'No task queue available and all Workers are busy',
]);
const WORKER_URL = new URL('./task-pool-worker.js', import.meta.url).href;
const NO_OPTIONS: RunTaskOptions = Object.freeze({});
/** piscina's error for tasks it drops when a thread is terminated (destroy, or abort of a running task). */
const THREAD_TERMINATION = 'Terminating worker thread';

type PiscinaClass = typeof Piscina;
/** piscina's Pool class once this thread has loaded it (the first pool start loads it). */
let piscinaClass: PiscinaClass | undefined;
let piscinaLoading: Promise<PiscinaClass> | undefined;

function loadPiscina(): Promise<PiscinaClass> {
  piscinaLoading ??= import('piscina').then((m) => {
    piscinaClass = m.Piscina;
    return m.Piscina;
  });
  return piscinaLoading;
}

/** The reason a task's own AbortController is aborted with when its time-out fires. */
class TimeoutMark {
  constructor(readonly ms: number) {}
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
  state: 'running' | 'draining' | 'stopped' = 'running';
  stopReason: ExitReason | undefined;
  inFlight = 0;
  readonly counts: TaskCounts = {
    completed: 0,
    failed: 0,
    timedOut: 0,
    aborted: 0,
    workerDied: 0,
    threadErrors: 0,
  };
  #drained: (() => void) | undefined;
  #destroyed: Promise<void> | undefined;
  readonly #exiting = new Set<Promise<void>>();
  // Bound once: the plain path allocates no closure per task.
  readonly #onOk = (r: unknown): unknown => this.#ok(r);
  readonly #onErr = (e: unknown): never => this.#fail(e, undefined);

  constructor(pid: Pid, node: Node, o: NormalizedTaskPoolOptions, clock: Clock, Piscina: PiscinaClass) {
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
      this.counts.threadErrors++;
    });
    // 'workerDestroy' fires as piscina removes a thread, while the Worker is still listed: keep a
    // promise of its exit, so destroy can wait for it (see #destroyAll). A thread that ended itself
    // (process.exit in a task, an uncaught error) has already emitted 'exit' by then: its threadId,
    // and so the id piscina reports, is -1. Matching -1 would pick a dead thread and wait for an
    // 'exit' it never emits again, hanging the pool's stop until its supervisor kills it.
    this.piscina.on('workerDestroy', (w: { readonly id: number }) => {
      const worker = this.piscina.threads.find((t) => t.threadId === w.id && t.threadId !== -1);
      if (worker === undefined) return;
      const exited: Promise<void> = new Promise((r) => worker.once('exit', () => r()));
      this.#exiting.add(exited);
      void exited.then(() => this.#exiting.delete(exited));
    });
    pools.set(pid, this);
    if (o.name !== undefined) pools.set(o.name, this);
    // A callback monitor fires synchronously inside the process's exit, whatever the reason (even an
    // untrappable kill, which skips terminate): the one place where in-flight tasks are failed.
    node.monitor((reason) => this.#onExit(reason), pid);
  }

  run(task: unknown, opts: RunTaskOptions | undefined): Promise<unknown> {
    if (this.state !== 'running') return Promise.reject(new TaskPoolStoppedError(this.label, undefined));
    if (opts === undefined && this.timeoutMs === Number.POSITIVE_INFINITY) {
      // The hot path: one Map lookup (in runTask), a counter, and one derived promise over piscina's.
      this.inFlight++;
      return this.piscina.run(task).then(this.#onOk, this.#onErr);
    }
    return this.#runWithOptions(task, opts ?? NO_OPTIONS);
  }

  #runWithOptions(task: unknown, opts: RunTaskOptions): Promise<unknown> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const bad = badRunOptions(opts, timeoutMs);
    if (bad) return Promise.reject(bad);
    const user = opts.signal;
    if (user?.aborted) {
      this.counts.failed++;
      this.counts.aborted++;
      return Promise.reject(new TaskAbortedError(this.label, user.reason));
    }
    const runOpts: { signal?: AbortSignal; transferList?: any } = {};
    if (opts.transferList !== undefined) runOpts.transferList = opts.transferList;
    this.inFlight++;
    if (timeoutMs === Number.POSITIVE_INFINITY) {
      // Only the caller's signal: piscina watches it itself.
      if (user !== undefined) runOpts.signal = user;
      return this.piscina.run(task, runOpts).then(this.#onOk, (e) => this.#fail(e, user));
    }
    // A time-out needs a signal of our own, aborted with a TimeoutMark; the caller's signal, if any,
    // is forwarded to it. piscina rejects synchronously on abort, so the first event wins.
    const ac = new AbortController();
    runOpts.signal = ac.signal;
    const timer = this.clock.setTimeout(() => ac.abort(new TimeoutMark(timeoutMs)), timeoutMs);
    const forward = user === undefined ? undefined : () => ac.abort(user.reason);
    if (forward !== undefined) user!.addEventListener('abort', forward, { once: true });
    const cleanup = (): void => {
      this.clock.clearTimeout(timer);
      if (forward !== undefined) user!.removeEventListener('abort', forward);
    };
    return this.piscina.run(task, runOpts).then(
      (r) => {
        cleanup();
        return this.#ok(r);
      },
      (e) => {
        cleanup();
        return this.#fail(e, ac.signal);
      },
    );
  }

  #settled(): void {
    if (--this.inFlight === 0 && this.#drained !== undefined) {
      const d = this.#drained;
      this.#drained = undefined;
      d();
    }
  }

  #ok(r: unknown): unknown {
    this.#settled();
    if (typeof r === 'object' && r !== null && TASK_FAILED_KEY in r) {
      this.counts.failed++;
      const cause = deserializeError((r as Record<string, SerializedError>)[TASK_FAILED_KEY]!);
      throw new TaskFailedError(this.label, cause);
    }
    this.counts.completed++;
    return r;
  }

  /**
   * Turns a piscina rejection into the task's error. The wrapper (task-pool-worker.ts) returns every
   * error of the task's own code as a result, so a rejection here is the pool stopping, a
   * cancellation, piscina refusing or failing to post the task, or a dead thread.
   */
  #fail(e: unknown, signal: AbortSignal | undefined): never {
    this.#settled();
    this.counts.failed++;
    const err = e as Error | undefined;
    if (this.state === 'stopped' && err?.message === THREAD_TERMINATION) {
      throw new TaskPoolStoppedError(this.label, this.stopReason);
    }
    if (signal?.aborted && err?.name === 'AbortError') {
      const reason = signal.reason;
      if (reason instanceof TimeoutMark) {
        this.counts.timedOut++;
        throw new TaskTimeoutError(this.label, reason.ms);
      }
      this.counts.aborted++;
      throw new TaskAbortedError(this.label, reason);
    }
    if (err?.message !== undefined && QUEUE_FULL_MESSAGES.has(err.message))
      throw new TaskQueueFullError(this.label, this.maxQueue);
    if (err?.name === 'DataCloneError') throw new TaskNotCloneableError(this.label, e);
    this.counts.workerDied++;
    throw new TaskWorkerDiedError(this.label, e);
  }

  /** terminate: finish the tasks in flight (the supervisor's grace bounds this), then stop the threads. */
  async drainAndDestroy(): Promise<void> {
    if (this.state === 'running') this.state = 'draining';
    if (this.inFlight > 0) await new Promise<void>((r) => (this.#drained = r));
    await this.destroy();
  }

  destroy(): Promise<void> {
    this.#destroyed ??= this.#destroyAll();
    return this.#destroyed;
  }

  /**
   * piscina 5.3.2 can start a thread after destroy() has returned: a thread removed earlier (its task
   * was cancelled, or it died) whose 'exit' event arrives late runs piscina's replace-a-dead-thread
   * logic once destroy() has reset its flag. So wait until every removed thread has exited, and
   * destroy again while any thread is left (bounded: each round only has late exits to wait for).
   */
  async #destroyAll(): Promise<void> {
    for (let round = 0; round < 10; round++) {
      await this.piscina.destroy().catch(() => undefined);
      for (let i = 0; i < 100 && this.#exiting.size > 0; i++) await Promise.all([...this.#exiting]);
      if (this.piscina.threads.length === 0) return;
    }
  }

  #onExit(reason: ExitReason): void {
    this.state = 'stopped';
    this.stopReason = reason;
    if (pools.get(this.pid) === this) pools.delete(this.pid);
    if (this.name !== undefined && pools.get(this.name) === this) pools.delete(this.name);
    // piscina.destroy() rejects every queued and running task synchronously, before its first await;
    // #fail then sees state 'stopped' and reports ERR_TASK_POOL_STOPPED with this reason.
    void this.destroy();
    // The drain waiter may belong to a terminate that was cut short by a kill: release it.
    this.#drained?.();
    this.#drained = undefined;
  }

  stats(): TaskPoolStats {
    return {
      pid: this.pid,
      name: this.name,
      state: this.state,
      ...this.counts,
      inFlight: this.inFlight,
      queueSize: this.piscina.queueSize,
      threads: this.piscina.threads.length,
    };
  }
}

function isExitMessage(m: unknown): m is ExitMessage {
  return (m as ExitMessage | null)?.type === 'EXIT';
}

/**
 * Whether a pool stopping for `reason` lets the tasks in flight finish. Exhaustive over exit reasons
 * (ts-pattern): a new kind of reason must be decided on here.
 */
function drainsOnStop(reason: ExitReason): boolean {
  return match(reason)
    .with({ type: P.union('normal', 'shutdown') }, () => true)
    .with({ type: P.union('killed', 'noproc', 'error') }, () => false)
    .exhaustive();
}

const poolServer = defineServer<TaskPool, [NormalizedTaskPoolOptions, Clock, PiscinaClass]>({
  init(ctx: ServerContext, o, clock, Piscina) {
    return new TaskPool(ctx.self, ctx.node, o, clock, Piscina);
  },
  handleCall(request: unknown, from, pool, ctx) {
    // runTask from another thread: run it here and answer when it settles, without blocking the pool.
    if (isRemoteRun(request)) {
      pool.run(request.$runTask, { timeoutMs: request.timeoutMs }).then(
        (v) => ctx.reply(from, { ok: true, v } satisfies RemoteRunReply),
        (e: unknown) => ctx.reply(from, { ok: false, e: serializeError(e) } satisfies RemoteRunReply),
      );
      return noreply(pool);
    }
    // Lets another thread read the stats.
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
    if (drainsOnStop(reason)) await pool.drainAndDestroy();
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
    const start = (Piscina: PiscinaClass): Promise<Pid | Ignore> =>
      startServer(
        poolServer,
        [o, o.clock ?? ctx.clock, Piscina],
        { link: ctx.parent, parent: ctx.parent, name: o.name, trapExit: true, clock: ctx.clock },
        ctx.node,
      );
    // Once piscina is loaded, a (re)start spawns the pool process synchronously, like any start.
    return piscinaClass !== undefined ? start(piscinaClass) : loadPiscina().then(start);
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
    return new TaskPoolNoProcError(
      pool,
      'no task pool with this pid is running (it has exited); address the pool by its registered name so a restarted pool is found',
    );
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
  if (p instanceof TaskPoolNoProcError) {
    // A pool of another thread (by pid, or by a name from the thread directory): ask it by a call.
    const node = currentNode();
    const pid = isPid(pool) ? pool : node.whereis(pool);
    if (pid !== undefined && !node.isLocal(pid)) return runRemote<R>(pid, task, opts);
    return Promise.reject(p);
  }
  return p.run(task, opts) as Promise<R>;
}

interface RemoteRun {
  readonly $runTask: unknown;
  readonly timeoutMs: number | undefined;
}
type RemoteRunReply =
  | { readonly ok: true; readonly v: unknown }
  | { readonly ok: false; readonly e: SerializedError };

function isRemoteRun(r: unknown): r is RemoteRun {
  return typeof r === 'object' && r !== null && '$runTask' in r;
}

async function runRemote<R>(pid: Pid, task: unknown, opts: RunTaskOptions | undefined): Promise<R> {
  if (opts?.signal !== undefined || (opts?.transferList?.length ?? 0) > 0) {
    throw new TaskPoolNoProcError(
      pid,
      "the pool lives in another thread, and an AbortSignal or a transferList cannot be sent there; run the task from the pool's thread for those, or drop them",
    );
  }
  // No call time-out: the task's own (timeoutMs, or the pool's taskTimeoutMs) bounds it.
  let r: RemoteRunReply;
  try {
    const req: RemoteRun = { $runTask: task, timeoutMs: opts?.timeoutMs };
    r = await call<RemoteRunReply>(pid, req, { timeoutMs: Number.POSITIVE_INFINITY });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_NOPROC') throw e;
    throw new TaskPoolNoProcError(
      pid,
      `no task pool with this pid is running in thread ${nodeOf(pid)} (the pool or its thread has exited); address the pool by its registered name so a restarted pool is found`,
    );
  }
  if (!r.ok) throw deserializeError(r.e);
  return r.v as R;
}

/** A snapshot of a pool's counters (this thread only; from another thread, `call(pool, 'stats')`). */
export function taskPoolStats(pool: Pid | string): TaskPoolStats {
  const p = lookup(pool);
  if (p instanceof TaskPoolNoProcError) throw p;
  return p.stats();
}
