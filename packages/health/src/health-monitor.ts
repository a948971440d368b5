/**
 * The health monitor's state and its in-thread API. One instance lives inside the monitor's
 * gen_server (health-server.ts); code of the same thread reaches it with `findHealthMonitor()`.
 *
 * Cost model (1,000 actors beating every 100 ms must stay under 5% of a core):
 * - a beat is two Map lookups and a few field writes on the actor's slot: no message, no timer, no
 *   allocation, no I/O (beats from other threads arrive as one small message each);
 * - ONE timer scans every slot once per scan interval for missed deadlines;
 * - ONE LMDB write transaction per flush interval writes the records that changed.
 */
import {
  type ActorContext,
  type Clock,
  currentNode,
  type ExitReason,
  formatReason,
  isCleanExit,
  isPid,
  type Node,
  type Pid,
  type Ref,
  type SupervisorEvent,
} from '@trellis/core';
import { ChildStatsTable } from './child-stats.js';
import { HEALTH_DEFAULTS } from './defaults.js';
import { HealthKeyTakenError, InvalidHealthOptionsError } from './errors.js';
import { listMonitor, lookupMonitor, unlistMonitor } from './health-directory.js';
import { HealthEmitter } from './health-emitter.js';
import type { ChildStats, HealthEvent, HealthListener } from './health-events.js';
import type { HealthRecord, HealthRunRecord, HeartbeatTable } from './health-records.js';
import {
  type ActorHealthOptions,
  beatTransition,
  checkKey,
  dueTransition,
  exitTransition,
  type HealthState,
  isTerminal,
  normalizePolicy,
  normalizeTimings,
  type Slot,
  type Transition,
} from './health-state.js';
import type { HealthStore } from './health-store.js';
import { endProcessRun } from './run-identity.js';
import { heartbeatTable, newSlot, slotFromRecord, slotToRecord, type WallClock } from './slot-record.js';
import { applyStalePolicy } from './stale-policy.js';

/** What the monitor needs from its actor: exits for the policies, sends for subscribers. */
export interface MonitorHost {
  readonly ctx: ActorContext;
  readonly clock: Clock;
}

export interface MonitorSetup {
  readonly name: string;
  readonly runId: string;
  readonly dir: string | undefined;
  readonly store: HealthStore | undefined;
  readonly run: HealthRunRecord | undefined;
  readonly defaults: ActorHealthOptions;
  readonly escalateTo: Pid | string | undefined;
  /** The run id is the process's (not given by the caller): a clean stop ends it. */
  readonly ownRun?: boolean;
}

/**
 * The live health monitor OBJECT of this thread registered as `target` (its name or its pid), if
 * any: the in-thread API. A monitor of another thread is reached by messages instead, by its name
 * (names resolve from every thread, as core's do) or its pid: `heartbeat`, `monitorActor`,
 * `healthRecords`, `healthRequest`.
 */
export function findHealthMonitor(
  target: string = HEALTH_DEFAULTS.name,
  node: Node = currentNode(),
): HealthMonitor | undefined {
  return lookupMonitor<HealthMonitor>(node, target);
}

export class HealthMonitor {
  readonly pid: Pid;
  readonly name: string;
  readonly runId: string;
  /** The LMDB directory, when records are persisted. */
  readonly dir: string | undefined;
  readonly #ctx: ActorContext;
  readonly #clock: Clock;
  /** Records carry wall times, which other processes can compare; deadlines use the monitor's clock. */
  readonly #time: WallClock;
  readonly #defaults: ActorHealthOptions;
  readonly #escalateTo: Pid | string | undefined;
  readonly #byKey = new Map<string, Slot>();
  readonly #byPid = new Map<Pid, Slot>();
  /** Old incarnations replaced before their exit was seen: their DOWN still updates the key. */
  readonly #retired = new Map<Pid, { key: string; state: HealthState }>();
  /** Beats from pids not registered yet (a child beating in its init, before its start returned). */
  readonly #early = new Map<Pid, number>();
  readonly #removed = new Set<string>();
  readonly #events: HealthEmitter;
  readonly #children = new ChildStatsTable();
  #store: HealthStore | undefined;
  #run: HealthRunRecord | undefined;
  #alive = true;
  #beatsPending = false;
  readonly #ownRun: boolean;

  constructor(host: MonitorHost, setup: MonitorSetup) {
    this.#ctx = host.ctx;
    this.#events = new HealthEmitter(host.ctx);
    this.#clock = host.clock;
    this.pid = host.ctx.self;
    this.name = setup.name;
    this.runId = setup.runId;
    this.dir = setup.dir;
    this.#store = setup.store;
    this.#run = setup.run;
    this.#defaults = setup.defaults;
    this.#escalateTo = setup.escalateTo;
    this.#ownRun = setup.ownRun === true;
    const offset = Date.now() - this.#clock.now();
    this.#time = { wall: (t) => Math.round(t + offset), clock: (wall) => wall - offset };
    listMonitor(host.ctx.node, this);
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Number of keys monitored (live or not). */
  get size(): number {
    return this.#byKey.size;
  }

  // ---- registration ------------------------------------------------------------------------------

  /**
   * Starts monitoring `pid` (state `initializing` until its first beat). Registering a key that
   * already exists starts a new incarnation of it (restarts + 1) when the previous pid is gone or was
   * the same child of the same supervisor; a key held by another live actor is refused.
   */
  register(pid: Pid, options: ActorHealthOptions = {}): HealthRecord {
    if (!isPid(pid)) {
      throw new InvalidHealthOptionsError(
        `register() needs a pid such as "<0.12>", got ${JSON.stringify(pid)}`,
        { pid },
      );
    }
    const o = options ?? {};
    const timings = normalizeTimings(o, this.#defaults);
    const policy = normalizePolicy(o.policy ?? this.#defaults.policy);
    const key = checkKey(o.key ?? o.id ?? pid);
    const escalateTo = o.escalateTo ?? this.#escalateTo ?? o.supervisor;
    if (policy === 'escalate' && escalateTo === undefined) {
      throw new InvalidHealthOptionsError(
        `actor "${key}" has policy "escalate" but no escalation target; register it with its supervisor (monitoredChild does), or set escalateTo on it or on the monitor`,
        { key },
      );
    }
    const now = this.#clock.now();
    const samePid = this.#byPid.get(pid);
    if (samePid !== undefined && samePid.key !== key) {
      throw new InvalidHealthOptionsError(
        `${pid} is already monitored under key "${samePid.key}"; unregister it first or register it with key "${samePid.key}"`,
        { pid, key, existing: samePid.key },
      );
    }
    let slot = this.#byKey.get(key);
    let from: HealthState | null = null;
    if (slot !== undefined && slot.pid === pid) {
      // Same incarnation: new options only.
      Object.assign(slot, { timings, policy, escalateTo, kind: o.kind ?? slot.kind, dirty: true });
      return this.#record(slot, now);
    }
    if (slot !== undefined) {
      if (slot.live && !this.#replaceable(slot, o)) throw new HealthKeyTakenError(key, slot.pid);
      from = slot.state;
      if (slot.live) this.#retired.set(slot.pid, { key, state: slot.state });
      this.#byPid.delete(slot.pid);
      slot.restarts++;
    } else {
      slot = newSlot(key, pid, policy, timings, escalateTo, now);
      this.#byKey.set(key, slot);
      this.#removed.delete(key);
    }
    Object.assign(slot, {
      pid,
      id: o.id ?? slot.id,
      supervisor: o.supervisor ?? slot.supervisor,
      kind: o.kind ?? this.#defaults.kind ?? slot.kind,
      policy,
      escalateTo,
      timings,
      registeredAt: now,
      lastBeat: undefined,
      beats: 0,
      live: true,
    });
    this.#byPid.set(pid, slot);
    this.#transition(slot, { to: 'initializing', cause: 'registered', at: now }, from);
    // Monitor last: for a pid that is already dead the DOWN (noproc) arrives as a message, after this.
    slot.ref = this.#ctx.monitor(pid);
    const early = this.#early.get(pid);
    if (early !== undefined) {
      this.#early.delete(pid);
      this.#beatSlot(slot, now);
    }
    return this.#record(slot, now);
  }

  /** Stops monitoring a key (or the key of a pid) and deletes its record at the next flush. */
  unregister(target: Pid | string): boolean {
    const slot = this.#byPid.get(target as Pid) ?? this.#byKey.get(target);
    if (slot === undefined) return false;
    this.#byKey.delete(slot.key);
    if (this.#byPid.get(slot.pid) === slot) this.#byPid.delete(slot.pid);
    if (slot.ref !== undefined && this.#alive) this.#ctx.demonitor(slot.ref as Ref, { flush: true });
    this.#removed.add(slot.key);
    return true;
  }

  #replaceable(slot: Slot, o: ActorHealthOptions): boolean {
    // The same child of the same supervisor: the supervisor only restarts a child that has exited.
    if (
      o.id !== undefined &&
      o.id === slot.id &&
      o.supervisor !== undefined &&
      o.supervisor === slot.supervisor
    )
      return true;
    const node = this.#ctx.node;
    if (node.isLocal(slot.pid) && !node.procs.has(slot.pid)) return true;
    // Its supervisor is gone (escalation, restart of the subtree): the old child dies with it.
    return slot.supervisor !== undefined && node.isLocal(slot.supervisor) && !node.procs.has(slot.supervisor);
  }

  // ---- heartbeats --------------------------------------------------------------------------------

  /** Records a heartbeat of `pid`. False when the pid is not (yet) registered. The hot path. */
  beat(pid: Pid): boolean {
    if (!this.#alive) return false;
    const slot = this.#byPid.get(pid);
    if (slot === undefined) {
      if (this.#early.size < HEALTH_DEFAULTS.maxEarlyBeats) this.#early.set(pid, this.#clock.now());
      return false;
    }
    this.#beatSlot(slot, this.#clock.now());
    return true;
  }

  #beatSlot(slot: Slot, now: number): void {
    slot.lastBeat = now;
    slot.beats++;
    // Not `dirty`: a beat alone reaches the file through the heartbeat table, not a record rewrite.
    this.#beatsPending = true;
    if (slot.state !== 'active') {
      const t = beatTransition(slot, now);
      if (t !== undefined) this.#transition(slot, t);
    }
  }

  /** Checks every live slot against its deadlines; called once per scan interval. */
  scan(): void {
    const now = this.#clock.now();
    for (const slot of this.#byKey.values()) {
      if (!slot.live || isTerminal(slot.state)) continue;
      // Bounded: at most initializing/active -> stale -> failed.
      for (let i = 0; i < 2; i++) {
        const t = dueTransition(slot, now);
        if (t === undefined) break;
        this.#transition(slot, t);
        if (!this.#alive || isTerminal(slot.state) || !slot.live) break;
      }
    }
    if (this.#early.size > 0) {
      for (const [pid, at] of this.#early)
        if (now - at > HEALTH_DEFAULTS.earlyBeatTtlMs) this.#early.delete(pid);
    }
  }

  // ---- exits and supervisor events ---------------------------------------------------------------

  /** A monitored pid exited (the DOWN of the monitor's monitor). */
  handleDown(pid: Pid, reason: ExitReason): void {
    const now = this.#clock.now();
    const text = formatReason(reason);
    const slot = this.#byPid.get(pid);
    if (slot !== undefined && slot.pid === pid) {
      this.#byPid.delete(pid);
      slot.live = false;
      slot.ref = undefined;
      slot.lastExitReason = text;
      slot.lastExitAt = now;
      slot.dirty = true;
      if (!isTerminal(slot.state)) this.#transition(slot, exitTransition(isCleanExit(reason), now));
      return;
    }
    const old = this.#retired.get(pid);
    if (old === undefined) return;
    this.#retired.delete(pid);
    const current = this.#byKey.get(old.key);
    if (current !== undefined) {
      current.lastExitReason = text;
      current.lastExitAt = now;
      current.dirty = true;
    }
    // The old incarnation's end is still an event, though the record already shows the new one.
    if (!isTerminal(old.state)) {
      const t = exitTransition(isCleanExit(reason), now);
      this.#emit({
        type: 'state',
        key: old.key,
        pid,
        id: current?.id ?? null,
        supervisor: current?.supervisor ?? null,
        from: old.state,
        to: t.to,
        cause: t.cause,
        at: this.#wall(now),
      });
    }
  }

  /** Restart counts and last exit reasons per child id, from the supervisors of this thread. */
  handleSupervisorEvent(e: SupervisorEvent): void {
    const exit = this.#children.apply(e);
    if (exit === undefined) return;
    // The DOWN normally got there first; this covers a slot whose pid the supervisor knows better.
    const slot = this.#byPid.get(exit.pid);
    if (
      slot !== undefined &&
      slot.supervisor === exit.supervisor &&
      slot.id === exit.id &&
      slot.lastExitReason === undefined
    ) {
      slot.lastExitReason = exit.reason;
      slot.dirty = true;
    }
  }

  // ---- state changes, policies, events -----------------------------------------------------------

  #transition(slot: Slot, t: Transition, from: HealthState | null = slot.state): void {
    slot.state = t.to;
    slot.cause = t.cause;
    slot.stateSince = t.at;
    slot.dirty = true;
    this.#emit({
      type: 'state',
      key: slot.key,
      pid: slot.pid,
      id: slot.id ?? null,
      supervisor: slot.supervisor ?? null,
      from,
      to: t.to,
      cause: t.cause,
      at: this.#wall(t.at),
    });
    if (t.to === 'stale' && this.#alive)
      applyStalePolicy(slot, this.#ctx, this.#wall(this.#clock.now()), (e) => this.#emit(e));
  }

  #emit(e: HealthEvent): void {
    this.#events.emit(e);
  }

  /** Calls `listener` for every event; returns a function that removes it. */
  on(listener: HealthListener): () => void {
    return this.#events.on(listener);
  }

  /** Sends every event to `pid` as a `$health_event` message until it exits or unsubscribes. */
  subscribe(pid: Pid): void {
    if (this.#alive) this.#events.subscribe(pid);
  }

  unsubscribe(pid: Pid): void {
    this.#events.unsubscribe(pid);
  }

  // ---- reading -----------------------------------------------------------------------------------

  /** The record of a key or of a pid (current incarnations only). */
  get(target: Pid | string): HealthRecord | undefined {
    const slot = this.#byPid.get(target as Pid) ?? this.#byKey.get(target);
    return slot === undefined ? undefined : this.#record(slot, this.#clock.now());
  }

  /** Every record, in registration order. */
  list(): HealthRecord[] {
    const now = this.#clock.now();
    return [...this.#byKey.values()].map((s) => this.#record(s, now));
  }

  /** Restarts and last exit per child of every supervisor of this thread. */
  children(): ChildStats[] {
    return this.#children.list();
  }

  #wall(t: number): number {
    return this.#time.wall(t);
  }

  #record(s: Slot, now: number): HealthRecord {
    return slotToRecord(s, this.runId, this.#time, now);
  }

  // ---- persistence -------------------------------------------------------------------------------

  /**
   * One flush, one write transaction: every record whose state changed, the heartbeat table when a
   * beat arrived since the last flush, and the run's lastFlushAt. Returns the number of records.
   */
  flush(): number {
    const now = this.#clock.now();
    const changed: HealthRecord[] = [];
    for (const s of this.#byKey.values()) {
      if (!s.dirty) continue;
      s.dirty = false;
      changed.push(this.#record(s, now));
    }
    if (this.#store === undefined || this.#run === undefined || this.#store.closed) {
      this.#removed.clear();
      this.#beatsPending = false;
      return changed.length;
    }
    let table: HeartbeatTable | undefined;
    if (this.#beatsPending) {
      table = heartbeatTable(this.#byKey.values(), this.#time, now);
      this.#beatsPending = false;
    }
    this.#run = { ...this.#run, lastFlushAt: this.#wall(now) };
    this.#store.write(this.#run, changed, [...this.#removed], table);
    this.#removed.clear();
    return changed.length;
  }

  /**
   * Takes over the records a previous monitor of this run (this process) left, so a restarted
   * monitor keeps watching the same actors: live ones get a fresh stale window (their beats while no
   * monitor ran were lost) and a new monitor, whose DOWN (noproc) reports those that died meanwhile.
   */
  adopt(records: readonly HealthRecord[]): number {
    const now = this.#clock.now();
    let n = 0;
    for (const r of records) {
      if (this.#byKey.has(r.key)) continue;
      const slot = slotFromRecord(r, this.#time, now, this.#escalateTo);
      if (slot === undefined) continue;
      this.#byKey.set(slot.key, slot);
      if (slot.live) {
        this.#byPid.set(slot.pid, slot);
        slot.ref = this.#ctx.monitor(slot.pid);
        n++;
      }
    }
    return n;
  }

  /**
   * The monitor stops. In order (normal/shutdown): every live record becomes `stopped`
   * (cause monitor_stopped) and the run `stopped`, in one last flush. On a crash the records and the
   * run stay as they were: the process lives on and the restarted monitor adopts them.
   */
  async close(reason: ExitReason | undefined): Promise<void> {
    if (!this.#alive) return;
    try {
      if (reason !== undefined && this.#store !== undefined && !this.#store.closed) {
        const clean = isCleanExit(reason);
        if (clean) {
          const now = this.#clock.now();
          for (const s of this.#byKey.values()) {
            if (s.live && !isTerminal(s.state))
              this.#transition(s, { to: 'stopped', cause: 'monitor_stopped', at: now });
          }
          if (this.#run) this.#run = { ...this.#run, state: 'stopped', stoppedAt: this.#wall(now) };
          if (this.dir !== undefined && this.#ownRun) endProcessRun(this.dir, this.name);
        }
        this.flush();
      }
    } finally {
      this.#shutdown();
      await this.#store?.close();
      this.#store = undefined;
    }
  }

  /** The monitor's process is gone (also after a `kill`, when terminate does not run). */
  abandon(): void {
    if (!this.#alive) return;
    this.#shutdown();
    const store = this.#store;
    this.#store = undefined;
    void store?.close().catch(() => {});
  }

  #shutdown(): void {
    this.#alive = false;
    unlistMonitor(this.#ctx.node, this);
    this.#events.close();
  }
}
