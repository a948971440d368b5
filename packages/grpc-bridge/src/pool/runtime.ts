/**
 * The state a ToolPool shares with its workers and calls: options, the dispatcher, counters, events,
 * the tool list, and where each new worker listens. One per ToolPool object; it outlives restarts of
 * the pool's supervisor, so a pool handle keeps working after its parent restarts it.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLogger, type Pid, type TimerHandle } from '@trellis/core';
import { BRIDGE_DEFAULTS } from '../defaults.js';
import type { WorkerExit } from '../errors.js';
import { HostService } from '../host-service.js';
import { sharedMemoryAvailable, shmPrefix } from '../shm/segments.js';
import { PoolLifecycle } from '../telemetry/lifecycle-log.js';
import { PoolMetrics } from '../telemetry/pool-metrics.js';
import { textLine, WorkerLogs } from '../telemetry/worker-log.js';
import { newWorkerTag, WorkerCgroups } from '../worker/descendants.js';
import { Launcher } from '../worker/launcher.js';
import { absoluteToolsRef, type ResolvedPython } from '../worker/python.js';
import type { ToolDescription, WorkerHandle } from '../worker/worker-handle.js';
import type { WorkerHost } from '../worker/worker-host.js';
import { type WorkerLaunchOptions, WorkerProcess } from '../worker/worker-process.js';
import { Dispatcher, type PoolWorker } from './dispatcher.js';
import { PoolEvents } from './events.js';
import type { NodeGroups } from './node-groups.js';
import { NodeTotals } from './node-stats.js';
import type { NormalizedPoolOptions, PythonLogRecord } from './options.js';
import type { PlacementProvider, RemoteLaunch } from './placement.js';
import { CircuitBreaker, isCrash, Quarantine } from './robustness.js';
import { type Session, SessionTable } from './sessions.js';
import { PoolCounters } from './stats.js';

export class PoolRuntime implements WorkerHost {
  readonly o: NormalizedPoolOptions;
  readonly name: string;
  readonly events: PoolEvents;
  readonly counters: PoolCounters;
  readonly dispatcher: Dispatcher;
  python: ResolvedPython | undefined;
  launcher: Launcher | undefined;
  /** Tools by name, from the most recent worker that became ready. */
  tools = new Map<string, ToolDescription>();
  toolNames: string[] = [];
  /** Slots that have had a worker, so a later start of the slot counts as a restart. */
  readonly slotsStarted = new Set<number>();
  /** The last worker start failure, for a precise error when the pool cannot start. */
  lastStartError: unknown;
  readonly sessions: SessionTable;
  readonly quarantine: Quarantine | undefined;
  readonly breaker: CircuitBreaker | undefined;
  readonly host: HostService;
  /** Worker output and lifecycle on the logger, and to the pool's log listeners. */
  readonly logs: WorkerLogs;
  readonly lifecycle: PoolLifecycle;
  readonly metrics: PoolMetrics;
  #socketDir: string | undefined;
  /**
   * The secret every call to this pool's workers carries (trellis_worker/guard.py): without it, any
   * local user could call a tool through the worker's port or socket and run it as this user.
   * Handed to each worker in its environment, never on its command line.
   */
  readonly secret = randomBytes(32).toString('hex');
  /** With `placement`: the node groups of this run (node-groups.ts); undefined for a local pool. */
  groups: NodeGroups | undefined;
  /** stats().nodes' figures of the workers that have left (node-stats.ts). */
  readonly nodeTotals = new NodeTotals();
  #cgroups: WorkerCgroups | undefined;
  #workerSeq = 0;
  #launchSeq = 0;
  #callSeq = 0;

  constructor(o: NormalizedPoolOptions) {
    this.o = o;
    this.name = o.name;
    this.events = new PoolEvents(o.name);
    this.counters = new PoolCounters(o.latencyWindow);
    this.sessions = new SessionTable(o.sessionTtlMs);
    this.quarantine = o.quarantine ? new Quarantine(o.quarantine) : undefined;
    this.breaker = o.circuitBreaker ? new CircuitBreaker(o.circuitBreaker) : undefined;
    this.host = new HostService((r) => this.#onLog(r), o.maxMessageBytes, this.secret);
    this.dispatcher = new Dispatcher({
      pool: o.name,
      maxQueue: o.maxQueue,
      selector: o.selector,
      clock: o.clock,
      onWorkerGone: (w, exit, tools) => this.#onWorkerGone(w, exit, tools),
      onQueueFull: (tool, depth) => {
        this.counters.queueFull++;
        this.events.pool.queueFull(tool, depth, o.maxQueue);
      },
    });
    this.logs = new WorkerLogs(o.name);
    this.lifecycle = new PoolLifecycle(this.logs);
    this.events.tap((e) => this.lifecycle.onEvent(e));
    const dispatcher = this.dispatcher;
    this.metrics = new PoolMetrics(o.name, {
      get queueDepth() {
        return dispatcher.queueDepth;
      },
      workers: () => dispatcher.workers(),
    });
    this.events.tap((e) => this.metrics.onEvent(e));
  }

  /** A worker's process exited: its sessions lost their state; a crash taints it and its tools. */
  #onWorkerGone(w: PoolWorker, exit: WorkerExit, tools: string[]): void {
    this.nodeTotals.workerLeft(w);
    if (exit.node !== undefined) {
      // Lost with its node: its sessions lost their state as with any dead worker; not a crash.
      this.sessions.workerLost(
        w.id,
        `was lost with its node "${exit.node.node}" (incarnation ${exit.node.incarnation}, ${exit.node.why === 'down' ? 'down' : 'unreachable'})`,
      );
      return;
    }
    const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
    this.sessions.workerLost(w.id, how);
    if (!isCrash(exit, w.process.killedByHost, w.process.oomKillsAtStart)) return;
    this.counters.tainted++;
    this.events.worker.tainted(w.slot, w, exit, tools);
    const q = this.quarantine;
    if (q === undefined) return;
    const now = this.o.clock.now();
    for (const t of tools) {
      if (q.crashed(t, now)) this.events.pool.toolQuarantined(t, q.options.crashes, q.options.cooldownMs);
    }
  }

  /** Ends a session: forgets it and tells its worker (if alive) to drop the Python state. */
  async endSession(s: Session, reason: string): Promise<boolean> {
    const released = await this.#releaseSession(s);
    // After the worker answered: whoever reacts to the event finds the Python state gone.
    this.events.pool.sessionEnded(s.id, reason, s.workerPid, released);
    return released;
  }

  #releaseSession(s: Session): Promise<boolean> {
    const w =
      s.workerId === undefined || s.lost !== undefined ? undefined : this.dispatcher.worker(s.workerId);
    if (w === undefined) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      try {
        w.client.EndSession(
          { sessionId: s.id },
          { deadline: new Date(Date.now() + BRIDGE_DEFAULTS.endSessionTimeoutMs) },
          (err, res) => resolve(!err && res?.existed === true),
        );
      } catch {
        resolve(false); // channel closed: the worker is going away with the state
      }
    });
  }

  #sweep: TimerHandle | undefined;

  /** Looks for expired sessions every sessionSweepMs while the pool runs. */
  startSessionSweep(): void {
    if (this.#sweep !== undefined || !Number.isFinite(this.o.sessionTtlMs)) return;
    const arm = (): void => {
      this.#sweep = this.o.clock.setTimeout(
        tick,
        Math.min(BRIDGE_DEFAULTS.sessionSweepMs, this.o.sessionTtlMs),
      );
      (this.#sweep as { unref?: () => void }).unref?.();
    };
    const tick = (): void => {
      for (const s of this.sessions.expired(this.o.clock.now())) void this.endSession(s, 'expired');
      arm();
    };
    arm();
  }

  stopSessionSweep(): void {
    if (this.#sweep !== undefined) this.o.clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
  }

  #onLog(r: PythonLogRecord): void {
    if (this.o.onLog) this.o.onLog(r);
    else if (this.o.onStderr) {
      const where = r.callId ? ` [${r.tool} ${r.callId}]` : '';
      this.o.onStderr(
        `${r.levelName} ${r.logger}${where}: ${r.message}${r.traceback ? `\n${r.traceback}` : ''}`,
        r.pid,
      );
    } else this.logs.pythonRecord(this.#slotOf(r.pid), r);
  }

  #slotOf(pid: number): number | undefined {
    for (const w of this.dispatcher.workers()) if (w.pid === pid) return w.slot;
    return undefined;
  }

  /**
   * A worker's stderr lines: to the app's `onStderr` when it gave one, else to the logger as
   * structured records (the worker writes its log records as JSON lines: see telemetry/worker-log.ts).
   */
  #stderrSink(slot: number): (line: string, pid: number) => void {
    const user = this.o.onStderr;
    if (user === undefined) return (line, pid) => this.logs.stderrLine(slot, pid, line);
    // The app's own sink gets readable lines (as before the JSON log format), the log listeners
    // (the observer's log tail) still get the records, and the logger stays out of it.
    return (line, pid) => {
      const r = this.logs.stderrLine(slot, pid, line, false);
      user(r === undefined || r.source === 'stderr' ? line : textLine(r), pid);
    };
  }

  /** Serves HostService when host tools are exposed; workers launched afterwards get its address. */
  async startHostService(): Promise<void> {
    if (this.host.tools.size === 0 || this.host.address !== undefined) return;
    let listen = '127.0.0.1:0';
    if (this.#socketDir !== undefined) {
      const p = join(this.#socketDir, 'host.sock');
      if (Buffer.byteLength(p) <= BRIDGE_DEFAULTS.maxSocketPath) listen = `unix:${p}`;
    }
    await this.host.start(listen);
  }

  /**
   * With placement and host tools: the HostService also listens where the provider says (this
   * node's address, mTLS with the cluster's CA), and remote workers get that address. Without a
   * listener from the provider, remote workers run without host tools (logged once).
   */
  async startRemoteHostService(provider: PlacementProvider): Promise<void> {
    if (this.host.tools.size === 0 || this.host.remoteAddress !== undefined) return;
    const listen = provider.hostListen();
    if (listen === undefined) {
      getLogger().warn(
        { pool: this.name, hostTools: [...this.host.tools.keys()] },
        "this pool's placement provider gives no address for its HostService, so its workers on other nodes cannot call host tools (ctx.call_host_tool fails there); run the pool on a cluster node with TLS",
      );
      return;
    }
    await this.host.listenRemote(listen.bind, listen.credentials, listen.advertise);
  }

  notePeakRss(bytes: number): void {
    this.counters.notePeakRss(bytes);
  }

  nextWorkerId(): number {
    return ++this.#workerSeq;
  }

  // ---- WorkerHost: what a PythonWorker asks of its pool ----------------------------------------------

  /** A Launcher for this run of the pool, starting each slot's process with launchOptions(slot). */
  newLauncher(): Launcher {
    this.launcher = new Launcher((slot) => this.launchOptions(slot));
    return this.launcher;
  }

  adoptProcess(slot: number): Promise<WorkerHandle> {
    if (this.groups !== undefined) return this.groups.acquire(slot);
    const launcher = this.launcher;
    if (launcher === undefined) throw new Error('PoolRuntime.adoptProcess before the pool made its Launcher');
    return launcher.acquire(slot);
  }

  launchProcess(slot: number): Promise<WorkerHandle> {
    if (this.groups !== undefined) return this.groups.launch(slot);
    return WorkerProcess.launch(this.launchOptions(slot));
  }

  slotLost(slot: number, _why: unknown): boolean {
    return this.groups?.slotLost(slot) ?? false;
  }

  /** What the pool decides about the worker of a node group's slot (placement.ts). */
  remoteLaunch(slot: number): RemoteLaunch {
    const o = this.o;
    return {
      pool: this.name,
      slot,
      tools: o.tools.map((t) => absoluteToolsRef(t, o.cwd)),
      python: typeof o.python === 'string' ? o.python : undefined,
      concurrency: o.concurrency,
      maxMessageBytes: o.maxMessageBytes,
      graceMs: BRIDGE_DEFAULTS.cancelGraceMs,
      startTimeoutMs: o.startTimeoutMs,
      maxRssMb: Number.isFinite(o.maxRssMb) ? o.maxRssMb : undefined,
      env: { ...o.env },
      secret: this.secret,
      hostAddress: this.host.remoteAddress,
    };
  }

  startFailed(slot: number, error: unknown): void {
    this.lastStartError = error;
    this.events.worker.startFailed(slot, error);
  }

  started(slot: number, self: Pid): boolean {
    this.groups?.started(slot, self);
    const restart = this.slotsStarted.has(slot);
    this.slotsStarted.add(slot);
    if (restart) this.counters.restarts++;
    return restart;
  }

  recycled(workerId: number, detail: string): void {
    this.sessions.workerLost(workerId, `was recycled (${detail})`);
    this.counters.recycles++;
  }

  nextCallId(): string {
    return `${this.name}-${++this.#callSeq}`;
  }

  setTools(tools: readonly ToolDescription[]): void {
    this.tools = new Map(tools.map((t) => [t.name, t]));
    this.toolNames = [...this.tools.keys()].sort();
  }

  /**
   * A private directory (0700: mkdtemp's mode) for this run of the pool's sockets (unix transport).
   * Under TMPDIR when a socket path there fits in sun_path (107 bytes), else under /tmp; only when
   * neither fits do the workers fall back to loopback TCP, and that is logged (the secret still
   * guards every call).
   */
  openSockets(): void {
    if (this.o.transport !== 'unix' || this.#socketDir !== undefined) return;
    // The longest name launchOptions gives a socket, with room for large slot and launch numbers.
    const longest = 'w9999-99999999.sock';
    const fits = (dir: string): boolean =>
      Buffer.byteLength(join(dir, 'trellis-XXXXXX', longest)) <= BRIDGE_DEFAULTS.maxSocketPath;
    const base = [tmpdir(), '/tmp'].find(fits);
    if (base === undefined) {
      getLogger().warn(
        { pool: this.name, tmpdir: tmpdir() },
        "Unix socket paths under TMPDIR and /tmp are too long for the kernel (107 bytes): this pool's workers listen on loopback TCP instead (still guarded by the per-run secret); set TMPDIR to a shorter directory to keep Unix sockets",
      );
      return;
    }
    this.#socketDir = mkdtempSync(join(base, 'trellis-'));
  }

  /** This run's cgroups for the workers (worker/descendants.ts), where cgroup v2 lets us. */
  openCgroups(): void {
    if (this.#cgroups === undefined) this.#cgroups = WorkerCgroups.open();
  }

  closeCgroups(): void {
    this.#cgroups?.close();
    this.#cgroups = undefined;
  }

  /** True when this pool's workers each run in a cgroup of their own. */
  get cgroups(): boolean {
    return this.#cgroups !== undefined;
  }

  closeSockets(): void {
    if (this.#socketDir !== undefined) rmSync(this.#socketDir, { recursive: true, force: true });
    this.#socketDir = undefined;
  }

  /**
   * How long one restart waits for a registry that refuses records (a full disk) before it fails:
   * just long enough that failed starts alone never reach the pool's restart intensity
   * (intensity - 1 more of them in restartPeriodMs, with a tenth to spare; 1.2 s by default), so the
   * pool outlives a full disk; and no longer, because the pool's supervisor is inside that start
   * and hears nothing else meanwhile, not even a stop.
   */
  #registryWaitMs(): number {
    const { restartIntensity, restartPeriodMs, startTimeoutMs } = this.o;
    return Math.min(startTimeoutMs, Math.ceil((1.1 * restartPeriodMs) / Math.max(1, restartIntensity - 1)));
  }

  /**
   * How to start the worker of `slot`. Each launch gets a socket path of its own: a restarted worker
   * never reuses the path of one that may still be alive.
   */
  launchOptions(slot: number): WorkerLaunchOptions {
    const python = this.python;
    if (python === undefined)
      throw new Error('PoolRuntime.launchOptions before the Python interpreter was resolved');
    let listen = '127.0.0.1:0';
    let socketPath: string | undefined;
    if (this.#socketDir !== undefined) {
      const p = join(this.#socketDir, `w${slot}-${++this.#launchSeq}.sock`);
      // sun_path holds 107 bytes: a long TMPDIR falls back to loopback TCP with a kernel-chosen port.
      if (Buffer.byteLength(p) <= BRIDGE_DEFAULTS.maxSocketPath) {
        listen = `unix:${p}`;
        socketPath = p;
      }
    }
    return {
      python,
      tools: this.o.tools.map((t) => absoluteToolsRef(t, this.o.cwd)),
      listen,
      socketPath,
      concurrency: this.o.concurrency,
      maxMessageBytes: this.o.maxMessageBytes,
      lane: this.o.lane,
      shm:
        this.o.lane && Number.isFinite(this.o.shmThresholdBytes) && sharedMemoryAvailable()
          ? {
              prefix: shmPrefix(),
              thresholdBytes: this.o.shmThresholdBytes,
              maxBytes: this.o.maxShmBytes,
              maxMappedBytes: this.o.maxMappedBytes,
            }
          : undefined,
      graceMs: BRIDGE_DEFAULTS.cancelGraceMs,
      maxRssMb: this.o.maxRssMb,
      startTimeoutMs: this.o.startTimeoutMs,
      // A slot that ran before is restarting: the registry took its records then, so a refusal now
      // (a full disk) may pass; at the pool's first start, the caller hears of it at once.
      registryWaitMs: this.slotsStarted.has(slot) ? this.#registryWaitMs() : 0,
      cwd: this.o.cwd,
      env: { ...process.env, ...this.o.env },
      secret: this.secret,
      cgroup: this.#cgroups?.create(),
      tag: newWorkerTag(),
      name: `${this.name}/worker-${slot}`,
      stderrTailBytes: BRIDGE_DEFAULTS.stderrTailBytes,
      maxStderrLineBytes: BRIDGE_DEFAULTS.maxStderrLineBytes,
      maxReadyLineBytes: BRIDGE_DEFAULTS.maxReadyLineBytes,
      onStderr: this.#stderrSink(slot),
      hostAddress: this.host.address,
      // With host tools, the lane carries the workers' host calls too (HostService.run).
      hostCalls:
        this.host.address === undefined ? undefined : (req, ac, reply) => this.host.run(req, ac, reply),
      clock: this.o.clock,
      onSpawned: (pid) => {
        this.events.worker.started(slot, pid);
      },
    };
  }
}
