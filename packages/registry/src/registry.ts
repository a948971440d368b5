/**
 * The run-scoped process registry: one run record per boot of a Trellis system, one child record per
 * OS process it starts, an orderly stop for this run's children and a sweep that reaps what crashed
 * runs left behind. It installs itself as the core's `ProcessTracker`, so `spawnProcess` records
 * through it. See docs/registry.md for what it guarantees and what it cannot.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Clock,
  getProcessTracker,
  type ProcessActivation,
  type ProcessTracker,
  procfsAvailable,
  runMarker,
  setProcessTracker,
  systemClock,
  type TimerHandle,
  type TrackedProcessInfo,
} from '@trellis/core';
import {
  createRunId,
  currentHost,
  currentIdentity,
  type HostIdentity,
  homeTagFor,
  parseRunId,
  resolveHomeDir as resolveRegistryDir,
} from '@trellis/home';
import { REGISTRY_DEFAULTS } from './defaults.js';
import * as errors from './errors.js';
import { type ChildView, type RunView, viewChild, viewRun } from './inspect.js';
import { consoleLogger, type RegistryLogger } from './logger.js';
import { checkGrace, checkPeerCheck, reapWithoutRegistry } from './open-checks.js';
import { PeerWatch } from './peer-watch.js';
import type { ChildRecord, RunRecord } from './records.js';
import type { StopReport, SweepReport } from './report.js';
import { stopRun } from './stop-run.js';
import { RegistryStore, type StoreRecovery } from './store.js';
import { anyDeadRun, type SweepContext, type SweepOptions, sweepRegistry } from './sweep.js';

export interface RegistryOptions {
  /** Registry directory. Precedence: this option > `TRELLIS_HOME` > `<cwd>/.trellis`. */
  readonly dir?: string;
  /** A run id made by `createRunId` in this process; by default a new one is made. */
  readonly runId?: string;
  /** Grace period between SIGTERM and SIGKILL for `stopAll` and sweeps (default 5000 ms). */
  readonly graceMs?: number;
  /** Clock for grace periods and polling (tests inject a simulated one). */
  readonly clock?: Clock;
  /** Where warnings (bad registry file) and sweep reports go; default console. */
  readonly logger?: RegistryLogger;
  /** Sweep dead runs at open (default true). */
  readonly sweepAtBoot?: boolean;
  /** Install as the core's process tracker (default true). */
  readonly installTracker?: boolean;
  /** fsync every commit (default false: see store.ts for why a committed write is enough). */
  readonly syncToDisk?: boolean;
  /**
   * How often a running registry checks for runs whose host died (another instance on the same
   * directory killed by kill -9) and reaps what they left (default 1000 ms; 0 turns it off). See
   * peer-watch.ts for what one check costs.
   */
  readonly peerCheckMs?: number;
}

export interface AttachOptions {
  /** The run to write children under: the `runId` of a registry opened in this process. */
  readonly runId: string;
  readonly dir?: string;
  readonly graceMs?: number;
  readonly clock?: Clock;
  readonly logger?: RegistryLogger;
  readonly installTracker?: boolean;
}

export interface StopAllOptions {
  readonly graceMs?: number;
}

interface Internals {
  store: RegistryStore;
  here: HostIdentity;
  runId: string;
  owner: boolean;
  graceMs: number;
  clock: Clock;
  logger: RegistryLogger;
}

export class Registry implements ProcessTracker {
  readonly runId: string;
  readonly marker: string;
  /** Absolute registry directory. */
  readonly dir: string;
  /** What the sweep at open did (undefined when `sweepAtBoot: false` or attached). */
  bootSweep: SweepReport | undefined;
  #store: RegistryStore;
  #here: HostIdentity;
  #owner: boolean;
  #graceMs: number;
  #clock: Clock;
  #logger: RegistryLogger;
  #nonce = randomBytes(3).toString('hex');
  #seq = 0;
  #pidToId = new Map<number, string>();
  #idToPid = new Map<string, number>();
  #closed = false;
  #stopping = false;
  #peerWatch: PeerWatch | undefined;
  /** Sweeps run one at a time: the periodic one and one asked for never race over the same run. */
  #sweepChain: Promise<unknown> = Promise.resolve();
  /**
   * Records of children that have exited but whose removal the store refused (the disk was full, or
   * not writable, at that moment). The child is gone, so its record must go too: the removal is
   * retried before every later write and every `removalRetryMs` until it succeeds. Without this the
   * record stayed, marked dead, until the next boot's sweep (chaos: a recycled worker that exited
   * while the disk-full fault held the home's filesystem full).
   */
  #unremoved = new Set<string>();
  #retryTimer: TimerHandle | undefined;
  #warnedUnremoved = false;

  private constructor(i: Internals) {
    this.#store = i.store;
    this.#here = i.here;
    this.runId = i.runId;
    this.marker = runMarker(i.runId);
    this.dir = i.store.dir;
    this.#owner = i.owner;
    this.#graceMs = i.graceMs;
    this.#clock = i.clock;
    this.#logger = i.logger;
  }

  /**
   * Opens the registry, records a new run, sweeps runs whose host is dead and installs itself as the
   * core's process tracker. A corrupt or incompatible registry file is moved aside with a warning and
   * a fresh one started; the sweep then also scans `/proc` for processes of this registry's dead runs.
   */
  static async open(options: RegistryOptions = {}): Promise<Registry> {
    if (!procfsAvailable()) throw new errors.UnsupportedPlatformError();
    const graceMs = checkGrace(options.graceMs ?? REGISTRY_DEFAULTS.graceMs);
    const peerCheckMs = checkPeerCheck(options.peerCheckMs ?? REGISTRY_DEFAULTS.peerCheckMs);
    const logger = options.logger ?? consoleLogger;
    const dir = resolveRegistryDir({ dir: options.dir });
    let store: RegistryStore;
    try {
      store = RegistryStore.open({ dir, logger, syncToDisk: options.syncToDisk === true });
    } catch (err) {
      if (err instanceof errors.RegistryUnavailableError && options.sweepAtBoot !== false) {
        await reapWithoutRegistry(dir, graceMs, options.clock ?? systemClock, logger, err);
      }
      throw err;
    }
    try {
      const homeTag = homeTagFor(dir);
      const here = currentIdentity(homeTag);
      const host = currentHost();
      const runId = options.runId ?? createRunId(homeTag, host);
      const parts = parseRunId(runId);
      if (
        !parts ||
        parts.hostPid !== host.pid ||
        parts.hostStartTime !== host.startTime ||
        parts.homeTag !== homeTag
      ) {
        throw new errors.InvalidRegistryOptionsError(
          `runId "${runId}" was not made for this process and registry; omit runId or make it with createRunId(homeTagFor(dir))`,
          { runId },
        );
      }
      if (store.getRun(runId)) {
        throw new errors.InvalidRegistryOptionsError(
          `run "${runId}" is already in the registry; every open needs a new run id`,
          {
            runId,
          },
        );
      }
      const run: RunRecord = {
        runId,
        hostPid: host.pid,
        hostStartTime: host.startTime,
        bootId: here.bootId,
        hostname: hostname(),
        pidNamespace: here.pidNamespace,
        startedAt: new Date().toISOString(),
        cwd: process.cwd(),
      };
      // Committed before anything can be spawned: a concurrent instance's sweep sees this run alive.
      store.putRun(run);
      const registry = new Registry({
        store,
        here,
        runId,
        owner: true,
        graceMs,
        clock: options.clock ?? systemClock,
        logger,
      });
      if (options.sweepAtBoot !== false) {
        registry.bootSweep = await registry.sweep({ scanMarkers: store.recovery ? 'home' : 'runs' });
      }
      if (options.installTracker !== false) setProcessTracker(registry);
      if (peerCheckMs > 0) registry.#watchPeers(peerCheckMs);
      return registry;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /**
   * A registry for another thread (a worker) of the process that opened the run: it writes children
   * under that run id, does not sweep, and leaves the run record alone on close. Install it in the
   * worker so `spawnProcess` there is tracked too.
   */
  static async attach(options: AttachOptions): Promise<Registry> {
    if (!procfsAvailable()) throw new errors.UnsupportedPlatformError();
    const graceMs = checkGrace(options.graceMs ?? REGISTRY_DEFAULTS.graceMs);
    const logger = options.logger ?? consoleLogger;
    const dir = resolveRegistryDir({ dir: options.dir });
    const store = RegistryStore.open({ dir, logger, recover: false });
    if (!store.getRun(options.runId)) {
      await store.close();
      throw new errors.InvalidRegistryOptionsError(
        `run "${options.runId}" is not in the registry at ${dir}; attach with the runId of a registry opened by Registry.open in this process`,
        { runId: options.runId, dir },
      );
    }
    const here = currentIdentity(homeTagFor(dir));
    const registry = new Registry({
      store,
      here,
      runId: options.runId,
      owner: false,
      graceMs,
      clock: options.clock ?? systemClock,
      logger,
    });
    if (options.installTracker !== false) setProcessTracker(registry);
    return registry;
  }

  /** Set when a bad registry file was moved aside at open. */
  get recovery(): StoreRecovery | undefined {
    return this.#store.recovery;
  }

  get closed(): boolean {
    return this.#closed;
  }

  // --- ProcessTracker ----------------------------------------------------------------------------

  /** Records a child about to be spawned; the record is committed when this returns. */
  reserve(info: TrackedProcessInfo): string {
    this.#assertOpen('reserve');
    if (this.#stopping) throw new errors.RegistryStoppingError();
    this.#retryRemovals();
    if (typeof info?.command !== 'string' || !Array.isArray(info.args)) {
      throw new errors.InvalidRegistryOptionsError('reserve() needs { role, name, command, args }');
    }
    const reservationId = `${this.runId}/${this.#nonce}-${++this.#seq}`;
    const record: ChildRecord = {
      runId: this.runId,
      reservationId,
      state: 'reserved',
      marker: this.marker,
      role: String(info.role ?? ''),
      name: String(info.name ?? ''),
      command: info.command,
      args: [...info.args],
      recordedAt: new Date().toISOString(),
    };
    this.#store.putChild(record);
    return reservationId;
  }

  /** Completes a reservation; throws `ERR_UNKNOWN_RESERVATION` when stopAll already removed it. */
  activate(reservationId: string, activation: ProcessActivation): void {
    this.#assertOpen('activate');
    this.#retryRemovals();
    const updated = this.#store.updateChild(reservationId, (current) => ({
      ...current,
      state: 'active',
      pid: activation.pid,
      pgid: activation.pgid,
      startTime: activation.startTime,
      activatedAt: new Date().toISOString(),
    }));
    if (!updated) throw new errors.UnknownReservationError(reservationId);
    this.#pidToId.set(activation.pid, reservationId);
    this.#idToPid.set(reservationId, activation.pid);
  }

  /**
   * Removes a child's record, by reservation id or PID. Unknown refs, and calls after close, do
   * nothing. When the store refuses the removal (ERR_REGISTRY_UNAVAILABLE), the record is removed
   * later, once the store takes writes again (`#unremoved`).
   */
  untrack(ref: string | number): void {
    if (this.#closed) return;
    let id: string | undefined;
    if (typeof ref === 'number') {
      id =
        this.#pidToId.get(ref) ??
        this.#store.listChildren(this.runId).find((c) => c.pid === ref)?.reservationId;
    } else id = ref;
    if (id === undefined) return;
    const pid = this.#idToPid.get(id);
    if (pid !== undefined) this.#pidToId.delete(pid);
    this.#idToPid.delete(id);
    this.#unremoved.add(id);
    this.#retryRemovals();
  }

  /** Removes the records in `#unremoved`; what the store still refuses stays there, and is retried. */
  #retryRemovals(): void {
    if (this.#unremoved.size === 0) return;
    for (const id of this.#unremoved) {
      try {
        this.#store.removeChild(id);
      } catch (err) {
        if (!(err instanceof errors.RegistryUnavailableError)) throw err;
        if (this.#retryTimer === undefined) {
          if (!this.#warnedUnremoved)
            this.#logger.warn(
              `trellis registry: the record of an exited child stays until the registry can write again: ${err.message}`,
              { reservationId: id },
            );
          this.#warnedUnremoved = true;
          this.#retryTimer = this.#clock.setTimeout(() => {
            this.#retryTimer = undefined;
            if (!this.#closed) this.#retryRemovals();
          }, REGISTRY_DEFAULTS.removalRetryMs);
          (this.#retryTimer as { unref?: () => void }).unref?.();
        }
        return;
      }
      this.#unremoved.delete(id);
    }
    this.#warnedUnremoved = false;
  }

  // --- inspection ---------------------------------------------------------------------------------

  /** Every run in the registry, with its host's state. */
  listRuns(): RunView[] {
    this.#assertOpen('listRuns');
    this.#store.refresh();
    return this.#store.listRuns().map((r) => viewRun(r, this.#here, this.runId));
  }

  /** Children of one run (default: every run), with their process's state. */
  listChildren(runId?: string): ChildView[] {
    this.#assertOpen('listChildren');
    this.#store.refresh();
    return this.#store.listChildren(runId).map(viewChild);
  }

  // --- reaping ------------------------------------------------------------------------------------

  /** Reaps the leftovers of runs whose host is dead (see sweep.ts); never touches live runs. */
  async sweep(options: SweepOptions = {}): Promise<SweepReport> {
    this.#assertOpen('sweep');
    if (options.graceMs !== undefined) checkGrace(options.graceMs);
    return this.#serialSweep(options);
  }

  /** Checks done and sweeps started by the periodic watch for dead peers (0 when it is off). */
  get peerWatch(): { readonly checks: number; readonly sweeps: number } {
    return { checks: this.#peerWatch?.checks ?? 0, sweeps: this.#peerWatch?.sweeps ?? 0 };
  }

  #serialSweep(options: SweepOptions): Promise<SweepReport> {
    const next = this.#sweepChain.then(() => sweepRegistry(this.#context(), options));
    this.#sweepChain = next.catch(() => {});
    return next;
  }

  #watchPeers(intervalMs: number): void {
    this.#peerWatch = new PeerWatch({
      intervalMs,
      backoffMs: Math.max(intervalMs, REGISTRY_DEFAULTS.peerBackoffMs),
      clock: this.#clock,
      logger: this.#logger,
      anyDeadRun: () => !this.#closed && anyDeadRun(this.#store, this.#here, this.runId),
      sweep: () => this.#serialSweep({}),
    });
    this.#peerWatch.start();
  }

  /**
   * Stops every child of this run: SIGTERM to each process group, the grace period, SIGKILL, records
   * removed, and `/proc` checked until each process is gone. New reservations are refused meanwhile;
   * a spawn that was between reserve and activate finds its reservation gone and kills its child.
   */
  async stopAll(options: StopAllOptions = {}): Promise<StopReport> {
    this.#assertOpen('stopAll');
    const graceMs = checkGrace(options.graceMs ?? this.#graceMs);
    this.#stopping = true;
    try {
      return await stopRun({
        store: this.#store,
        runId: this.runId,
        graceMs,
        clock: this.#clock,
        logger: this.#logger,
      });
    } finally {
      this.#stopping = false;
      this.#pidToId.clear();
      this.#idToPid.clear();
    }
  }

  /**
   * Uninstalls the tracker and closes the file. The run record is removed only when no child record is
   * left: children still running stay recorded, so the sweep after this process exits reaps them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (getProcessTracker() === this) setProcessTracker(undefined);
    // A periodic check or sweep in progress still reads the store: let it finish before closing it.
    await this.#peerWatch?.stop();
    await this.#sweepChain;
    try {
      if (this.#owner) {
        this.#store.refresh();
        if (this.#store.listChildren(this.runId).length === 0) this.#store.removeRun(this.runId);
      }
    } catch (err) {
      // A full or read-only disk: the run record stays, and the next sweep drops it (its host is dead
      // by then). The file must still be closed.
      this.#logger.warn(
        `trellis registry: could not remove this run's record at close: ${(err as Error).message}`,
        {
          runId: this.runId,
        },
      );
    } finally {
      await this.#store.close();
    }
  }

  #context(): SweepContext {
    return {
      store: this.#store,
      here: this.#here,
      ownRunId: this.runId,
      logger: this.#logger,
      clock: this.#clock,
      graceMs: this.#graceMs,
      killTimeoutMs: REGISTRY_DEFAULTS.killTimeoutMs,
      pollMs: REGISTRY_DEFAULTS.pollMs,
    };
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new errors.RegistryClosedError(operation);
  }
}
