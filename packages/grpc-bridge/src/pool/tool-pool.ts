/**
 * ToolPool: a supervised pool of Python worker processes serving one tools module, and the API to
 * call them.
 *
 * Shape in the tree:
 *
 *   parent supervisor
 *     └─ pool supervisor (simple_one_for_one, intensity restartIntensity / restartPeriodMs)
 *          ├─ PythonWorker slot 0  ── python -m trellis_worker ... (own process group)
 *          ├─ PythonWorker slot 1
 *          └─ ...
 *
 * simple_one_for_one because OTP stops all its children at once (one shutdown timer), so stopping a
 * pool drains every worker in parallel instead of one after another. The children are added by the
 * pool's start function, one startChild per slot; the Launcher has already spawned all N processes
 * at once, so each start only adopts a process that is ready or nearly (see launcher.ts).
 *
 * The dispatcher is not a process (see dispatcher.ts): calls go from the caller to a worker's gRPC
 * channel directly. The ToolPool object outlives its supervisor: put `pool.childSpec()` in a tree and
 * the same handle works across restarts of the pool by its parent.
 */

import { randomUUID } from 'node:crypto';
import {
  type ChildSpec,
  currentNode,
  Exit,
  type ExitReason,
  exit as exitProcess,
  formatReason,
  IGNORE,
  type Pid,
  type StartContext,
  serverChild,
  startChild,
  startSupervisor,
  systemClock,
  terminateChild,
  whichChildren,
} from '@trellis/core';
import { Call } from '../call/call.js';
import { ToolStream } from '../call/stream.js';
import { unary } from '../call/unary.js';
import { InvalidPoolOptionsError, PoolClosedError } from '../errors.js';
import type { HostToolFn } from '../host-service.js';
import type { ToolArgs } from '../payload.js';
import { loadProtocol } from '../protos.js';
import type { WorkerLogListener } from '../telemetry/worker-log.js';
import { provisionedPython, resolvePython } from '../worker/python.js';
import { PythonWorker } from '../worker/python-worker.js';
import type { ToolDescription } from '../worker/worker-handle.js';
import type { PoolEventListener } from './events.js';
import { NodeGroups } from './node-groups.js';
import {
  type CallOptions,
  normalizePoolOptions,
  type StreamOptions,
  type ToolPoolOptions,
} from './options.js';
import { type PlacementOptions, placementProvider } from './placement.js';
import { poolRunning, poolStopped } from './running-pools.js';
import { PoolRuntime } from './runtime.js';
import type { CreateSessionOptions } from './sessions.js';
import type { PoolStats, WorkerStatsView } from './stats.js';

export class ToolPool {
  readonly name: string;
  readonly #rt: PoolRuntime;
  #sup: Pid | undefined;
  #standalone = false;
  #starting = false;
  #done: Promise<ExitReason> | undefined;

  constructor(options: ToolPoolOptions) {
    this.#rt = new PoolRuntime(normalizePoolOptions(options));
    this.name = this.#rt.name;
  }

  /** Creates and starts a pool outside any tree; stop it with `stop()`. */
  static async start(options: ToolPoolOptions): Promise<ToolPool> {
    const pool = new ToolPool(options);
    await pool.start();
    return pool;
  }

  /**
   * Starts this pool outside any tree (its own supervisor, unlinked from any parent); resolves once
   * every worker is ready. Subscribe with `on()` first to see the start-up events. Stop it with
   * `stop()`. In a tree, use `childSpec()` instead.
   */
  async start(): Promise<void> {
    const node = currentNode();
    this.#standalone = true;
    await this.#start({ parent: node.selfPid, node, clock: systemClock, id: this.name }, true);
  }

  /**
   * The child spec that runs this pool under a supervisor: a supervisor-type child whose start
   * resolves once all `size` workers are ready.
   */
  childSpec(overrides: { readonly id?: string; readonly restart?: ChildSpec['restart'] } = {}): ChildSpec {
    return {
      id: overrides.id ?? this.name,
      start: (ctx: StartContext) => this.#start(ctx, false),
      type: 'supervisor',
      restart: overrides.restart ?? 'permanent',
      shutdown: 'infinity',
    };
  }

  /**
   * The per-run secret every call to this pool's workers must carry (metadata `trellis-secret`);
   * a call without it gets UNAUTHENTICATED. For tooling that talks to a worker directly (the chaos
   * fuzzers); the pool's own calls carry it already. Keep it inside this process.
   */
  workerSecret(): string {
    return this.#rt.secret;
  }

  /** The pool's supervisor while it runs. */
  get pid(): Pid | undefined {
    return this.#sup;
  }

  get running(): boolean {
    return this.#sup !== undefined;
  }

  /** Resolves with the pool supervisor's exit reason when it stops (undefined before the first start). */
  get done(): Promise<ExitReason> | undefined {
    return this.#done;
  }

  /** Stops a pool started with `ToolPool.start`: every worker drains (in parallel), then exits. */
  async stop(): Promise<ExitReason | undefined> {
    const sup = this.#sup;
    if (sup === undefined) return this.#done ? await this.#done : undefined;
    if (!this.#standalone) {
      throw new PoolClosedError(
        this.name,
        'it runs under a supervisor, which owns its life: stop it with terminateChild(parent, id) or by stopping the tree',
      );
    }
    exitProcess(sup, Exit.shutdown());
    return this.#done;
  }

  // ---- calls ---------------------------------------------------------------------------------------

  /** Runs a tool and resolves with its result (JSON decoded; bytes as a Buffer). */
  call<R = unknown>(tool: string, args?: ToolArgs, options: CallOptions = {}): Promise<R> {
    const call = new Call(this.#rt, tool, 'Execute');
    return call.run(args, options, unary) as Promise<R>;
  }

  /** Runs a generator tool; iterate the result for its items (backpressure applies). */
  stream<T = unknown>(tool: string, args?: ToolArgs, options: StreamOptions = {}): ToolStream<T> {
    return new ToolStream<T>(this.#rt, tool, args, options);
  }

  /** The tools the workers serve, as they describe them (empty before the first worker is ready). */
  tools(): ToolDescription[] {
    return [...this.#rt.tools.values()];
  }

  // ---- sessions -----------------------------------------------------------------------------------

  /**
   * Creates a session and returns its id: pass it as `sessionId` to calls. Its first call binds it
   * to a worker, whose Python side keeps ctx.session for it; later calls prefer that worker (see
   * `affinity`). It ends with `endSession`, or after `ttlMs` (default sessionTtlMs) without calls.
   */
  createSession(options: CreateSessionOptions = {}): string {
    const id = options.id ?? randomUUID();
    if (typeof id !== 'string' || id === '')
      throw new InvalidPoolOptionsError(`createSession id is ${JSON.stringify(id)}; use a non-empty string`, {
        field: 'id',
      });
    if (this.#rt.sessions.get(id) !== undefined)
      throw new InvalidPoolOptionsError(
        `session "${id}" already exists in pool "${this.name}"; end it first or choose another id`,
        { field: 'id' },
      );
    if (options.ttlMs !== undefined && !(typeof options.ttlMs === 'number' && options.ttlMs > 0))
      throw new InvalidPoolOptionsError(
        `createSession ttlMs is ${String(options.ttlMs)}; use ms > 0 (or Infinity)`,
        {
          field: 'ttlMs',
        },
      );
    this.#rt.sessions.create(id, this.#rt.o.clock.now(), options);
    return id;
  }

  /**
   * Ends a session: its worker drops the Python state (EndSession). Resolves true when a worker held
   * state for it; false for an unknown session or one whose worker is gone.
   */
  endSession(id: string): Promise<boolean> {
    const s = this.#rt.sessions.delete(id);
    if (s === undefined) return Promise.resolve(false);
    return this.#rt.endSession(s, 'ended');
  }

  /** The worker PID holding a session's state, if it is bound and that worker is alive. */
  sessionWorker(id: string): number | undefined {
    const s = this.#rt.sessions.get(id);
    if (s === undefined || s.lost !== undefined || s.workerId === undefined) return undefined;
    return this.#rt.dispatcher.worker(s.workerId)?.pid;
  }

  // ---- host tools ---------------------------------------------------------------------------------

  /**
   * Exposes a TypeScript function to the pool's Python tools (`ctx.call_host_tool(name, args)`).
   * `fn(args, { signal, sessionId, callId, workerPid })` may return a value or a promise; `signal`
   * fires when the Python call is cancelled or its deadline passes. Expose host tools before the
   * pool starts: workers learn the host's address (`--host-address`) when they are launched.
   */
  exposeHostTool(name: string, schema: Record<string, unknown>, fn: HostToolFn): void {
    if (typeof name !== 'string' || name === '')
      throw new InvalidPoolOptionsError(
        `exposeHostTool name is ${JSON.stringify(name)}; use a non-empty string`,
      );
    if (typeof schema !== 'object' || schema === null)
      throw new InvalidPoolOptionsError(
        `exposeHostTool("${name}") schema is not an object; pass a JSON Schema such as { type: "object", properties: {...} }`,
      );
    if (typeof fn !== 'function')
      throw new InvalidPoolOptionsError(`exposeHostTool("${name}") needs a function as its third argument`);
    if (this.#rt.host.address === undefined && (this.#sup !== undefined || this.#starting))
      throw new InvalidPoolOptionsError(
        `exposeHostTool("${name}") after pool "${this.name}" started without host tools: its workers were launched without a host address; expose host tools before starting the pool`,
      );
    this.#rt.host.tools.set(name, { name, schema, fn });
  }

  /** Subscribes to the pool's structured events; returns the unsubscribe function. */
  on(listener: PoolEventListener): () => void {
    return this.#rt.events.on(listener);
  }

  /**
   * Subscribes to the workers' log records (Python logging, other stderr lines, the pool's own
   * lifecycle), as they also go to the logger; returns the unsubscribe function.
   */
  onLog(listener: WorkerLogListener): () => void {
    return this.#rt.logs.on(listener);
  }

  stats(): PoolStats {
    const rt = this.#rt;
    const c = rt.counters;
    const workers: WorkerStatsView[] = rt.dispatcher.workers().map((w) => {
      const [wp50, wp99] = w.latency.percentiles([50, 99]);
      const h = rt.lifecycle.slots.get(w.slot);
      return {
        slot: w.slot,
        workerId: w.id,
        pid: w.pid,
        address: w.process.address,
        state: w.state,
        inFlight: w.inFlight,
        abandoned: w.abandoned,
        served: w.served,
        rssBytes: w.rssBytes,
        cpuSeconds: w.cpuSeconds,
        actorPid: w.actorPid,
        startedAt: w.readyAt,
        lastHeartbeatAt: w.lastHeartbeatAt,
        failed: w.failed,
        latencyMs: { p50: wp50, p99: wp99 },
        restarts: h?.restarts ?? 0,
        recycles: h?.recycles ?? 0,
        lastExit: h?.lastExit,
        lane: w.process.lane?.usable === true,
        laneCalls: w.process.lane?.calls ?? 0,
        node: w.process.node?.node,
        incarnation: w.process.node?.incarnation,
        laneHeartbeats: w.process.lane?.heartbeatsAnswered ?? 0,
      };
    });
    workers.sort((a, b) => a.slot - b.slot);
    const ready = workers.filter((w) => w.state === 'ready');
    const [p50, p99] = c.latency.percentiles([50, 99]);
    return {
      pool: this.name,
      status: this.#sup === undefined ? 'stopped' : 'running',
      size: rt.groups?.size ?? rt.o.size,
      queueDepth: rt.dispatcher.queueDepth,
      maxQueue: rt.o.maxQueue,
      readyWorkers: ready.length,
      busyWorkers: ready.filter((w) => w.inFlight > 0).length,
      idleWorkers: ready.filter((w) => w.inFlight === 0).length,
      inFlight: workers.reduce((n, w) => n + w.inFlight, 0),
      calls: { started: c.started, succeeded: c.succeeded, failed: c.failed, retried: c.retried },
      errorsByCode: Object.fromEntries(c.errorsByCode),
      latencyMs: { p50, p99, samples: c.latency.count },
      restarts: c.restarts,
      peakWorkerRssBytes: c.peakWorkerRssBytes,
      queueFull: c.queueFull,
      recycles: c.recycles,
      tainted: c.tainted,
      quarantined: rt.quarantine?.list(rt.o.clock.now()) ?? {},
      circuit: rt.breaker?.state ?? 'off',
      sessions: rt.sessions.size,
      workers,
      nodes:
        rt.groups === undefined
          ? []
          : rt.nodeTotals.stats(
              rt.groups.groups().map((g) => g.node),
              workers,
            ),
    };
  }

  // ---- start ---------------------------------------------------------------------------------------

  async #start(ctx: StartContext, standalone: boolean): Promise<Pid> {
    if (this.#sup !== undefined || this.#starting) {
      throw new PoolClosedError(
        this.name,
        `it is already ${this.#starting ? 'starting' : 'running'}; one ToolPool object runs once at a time`,
      );
    }
    this.#starting = true;
    const rt = this.#rt;
    const o = rt.o;
    const t0 = o.clock.now();
    if (o.placement !== undefined) {
      try {
        return await this.#startPlaced(ctx, standalone, o.placement, t0);
      } finally {
        this.#starting = false;
      }
    }
    try {
      rt.python =
        typeof o.python === 'object'
          ? await provisionedPython(o.python, this.name, { ...process.env, ...o.env }, o.cwd)
          : resolvePython(o.python, { ...process.env, ...o.env }, o.cwd);
      loadProtocol();
      rt.openSockets();
      rt.openCgroups();
      await rt.startHostService();
      rt.lastStartError = undefined;
      const launcher = rt.newLauncher();
      launcher.prespawn(Array.from({ length: o.size }, (_, i) => i));
      let sup: Pid;
      try {
        sup = await this.#startSupervisor(ctx, standalone, 'permanent');
      } catch (e) {
        await launcher.discard();
        throw e;
      }
      for (let slot = 0; slot < o.size; slot++) {
        let r: Pid | typeof IGNORE;
        try {
          r = await startChild(sup, [slot]);
        } catch (e) {
          await this.#abortStart(sup);
          throw rt.lastStartError ?? e;
        }
        if (r === IGNORE) break;
      }
      rt.events.pool.started(o.size, o.clock.now() - t0);
      poolRunning(this);
      return sup;
    } catch (e) {
      if (this.#sup === undefined) {
        await rt.host.stop();
        rt.closeSockets();
        rt.closeCgroups();
      }
      throw e;
    } finally {
      this.#starting = false;
    }
  }

  /**
   * The start of a pool with `placement`: no local Python, sockets or cgroups (each agent has its
   * own); the supervisor's children are transient, so a worker lost with its node ends with a
   * shutdown reason and is not restarted; the node groups (node-groups.ts) add and remove slots as
   * the provider reports nodes. Resolves once the workers of the nodes live now are ready.
   */
  async #startPlaced(
    ctx: StartContext,
    standalone: boolean,
    placement: PlacementOptions,
    t0: number,
  ): Promise<Pid> {
    const rt = this.#rt;
    const o = rt.o;
    const provider = placementProvider(this.name, placement);
    loadProtocol();
    await rt.startRemoteHostService(provider);
    rt.lastStartError = undefined;
    const groups = new NodeGroups(
      {
        name: this.name,
        clock: o.clock,
        retryMs: o.heartbeatIntervalMs,
        remoteLaunch: (slot) => rt.remoteLaunch(slot),
        startError: (e) => rt.lastStartError ?? e,
      },
      placement,
      provider,
    );
    rt.groups = groups;
    let sup: Pid;
    try {
      sup = await this.#startSupervisor(ctx, standalone, 'transient');
    } catch (e) {
      rt.groups = undefined;
      await rt.host.stop();
      throw e;
    }
    try {
      await groups.start(sup);
    } catch (e) {
      await this.#abortStart(sup);
      throw e;
    }
    rt.events.pool.started(groups.size, o.clock.now() - t0);
    poolRunning(this);
    return sup;
  }

  /**
   * The pool's supervisor (simple_one_for_one of PythonWorkers), and the pool open for calls from
   * then on. `restart`: permanent for local workers; transient with placement, so that a worker
   * lost with its node (a shutdown reason) is not restarted.
   */
  async #startSupervisor(
    ctx: StartContext,
    standalone: boolean,
    restart: 'permanent' | 'transient',
  ): Promise<Pid> {
    const rt = this.#rt;
    const o = rt.o;
    const sup = await startSupervisor(
      {
        flags: { strategy: 'simple_one_for_one', intensity: o.restartIntensity, periodMs: o.restartPeriodMs },
        children: [
          {
            id: 'python-worker',
            start: serverChild(PythonWorker, { trapExit: true }),
            args: [rt],
            restart,
            shutdown: o.shutdownMs,
          },
        ],
      },
      standalone ? { parent: ctx.node.selfPid, clock: ctx.clock } : { link: ctx.parent, clock: ctx.clock },
      ctx.node,
    );
    rt.dispatcher.open();
    rt.metrics.open();
    rt.startSessionSweep();
    this.#sup = sup;
    this.#done = new Promise<ExitReason>((resolve) =>
      ctx.node.monitor((reason) => resolve(this.#onStopped(sup, reason)), sup),
    );
    return sup;
  }

  /**
   * A worker failed to start: stop the ones already running (each drains and exits), then the
   * supervisor itself. The supervisor only obeys its parent's exit signal, and the parent is still
   * inside this start function, so it is stopped with the untrappable kill once it has no children.
   */
  async #abortStart(sup: Pid): Promise<void> {
    await this.#rt.launcher?.discard();
    await this.#rt.groups?.stop();
    try {
      for (const c of await whichChildren(sup)) {
        if (typeof c.pid === 'string' && c.pid !== 'restarting') await terminateChild(sup, c.pid);
      }
    } catch {
      // The supervisor already gave up on its own (restart intensity): its children are stopped.
    }
    const done = this.#done;
    exitProcess(sup, 'kill');
    await done;
  }

  #onStopped(sup: Pid, reason: ExitReason): ExitReason {
    if (this.#sup === sup) this.#sup = undefined;
    poolStopped(this);
    const rt = this.#rt;
    rt.dispatcher.close(new PoolClosedError(this.name, `its supervisor exited: ${formatReason(reason)}`));
    void rt.launcher?.discard();
    void rt.groups?.stop();
    rt.stopSessionSweep();
    rt.metrics.close();
    // Every worker is gone: so is every session's state.
    for (const s of rt.sessions.clear())
      rt.events.pool.sessionEnded(s.id, 'pool_stopped', s.workerPid, false);
    void rt.host.stop();
    rt.closeSockets();
    rt.closeCgroups();
    rt.events.pool.stopped(formatReason(reason));
    return reason;
  }
}
