/**
 * Carries out the in-process faults of the schedule inside the system under test and records how
 * each landed (fault-book.ts). A fault's target is chosen among what is alive when it fires, with
 * the schedule's random number, so a replay picks the same index in the same kind of list.
 *
 * Fatal faults on actors are delivered as calls, so the call's own failure says what happened: the
 * target exited with the reason this fault predicts (effective), with another reason (it was already
 * dying: absorbed-doomed), or it was not there (ERR_NOPROC: absorbed-dead). A call that answers
 * normally is `unexpected`: the fault did not work.
 */
import {
  type CallError,
  call,
  exit,
  isProcessAlive,
  type Pid,
  readProcStat,
  runTask,
  whereis,
} from '@trellis/core';
import { BRIDGE_DEFAULTS, type ToolPool } from '@trellis/grpc-bridge';
import { THROWN_MESSAGE } from './actors/chaos-thread.js';
import { CRASH_MESSAGE } from './actors/kv-server.js';
import { CHAOS_DEFAULTS } from './defaults.js';
import { fillDisk } from './disk-fill.js';
import { exitCode, type FaultRecord, type FaultStatus } from './fault-book.js';
import type { CallLedger, Outcome } from './ledger.js';
import type { InProcessFaultKind, PlannedFault } from './schedule.js';
import { SHM_CALL_TIMEOUT_MS, type ShmTarget, shmFull, workerNondumpable } from './shm-faults.js';
import type { WorkerSightings } from './sightings.js';
import { SMALL_HOME_ENV } from './small-home.js';
import { targetSession } from './targeting.js';
import { NAMES } from './tree.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface InjectorContext {
  readonly run: string;
  readonly pools: readonly ToolPool[];
  readonly ledger: CallLedger;
  /** Run offset now (ms since the suite started). */
  readonly now: () => number;
  readonly record: (f: FaultRecord) => void;
  /** The pools' worker_recycled events, to wait for the recycle a fault must cause. */
  readonly recycled: WorkerSightings;
  /** The pools' worker_exited events, to wait for the exit a fault must cause. */
  readonly exited: WorkerSightings;
}

type Landing = Omit<FaultRecord, 'index' | 'kind' | 'run' | 'atMs'>;

/** A pool-A worker a tool fault aims at, and the landing fields it shares. */
interface PoolATarget {
  readonly pool: ToolPool;
  readonly w: { readonly pid: number };
  readonly key: string;
  readonly base: { readonly group: string; readonly target: string; readonly fatal: false };
}
type Announce = (group: string, target: string, expect: readonly string[], fatal?: boolean) => void;

export class FaultInjector {
  readonly #c: InjectorContext;
  /** Targets (`group:target`) already hit by an effective fatal fault. */
  readonly #doomed = new Set<string>();
  readonly #running = new Set<Promise<void>>();

  constructor(c: InjectorContext) {
    this.#c = c;
  }

  /** Starts the fault now; it runs on its own (a long SIGSTOP lasts seconds). */
  fire(p: PlannedFault): void {
    const atMs = this.#c.now();
    // A fault whose effect may show before it has finished landing (a crash call fails only after
    // the exit; a kill -9 of the host can come in between) is first recorded as pending, so an exit
    // it causes is never reported without it. The final record (same index) replaces it.
    const announce: Announce = (group, target, expect, fatal = true) =>
      this.#c.record({
        index: p.index,
        kind: p.kind,
        run: this.#c.run,
        atMs,
        group,
        target,
        status: 'pending',
        fatal,
        expect,
      });
    const task = this.#land(p, announce)
      .catch(
        (e): Landing => ({
          group: 'harness',
          target: undefined,
          status: 'unexpected',
          fatal: false,
          expect: [],
          note: `the injector failed: ${(e as Error)?.stack ?? String(e)}`,
        }),
      )
      .then((l) => this.#c.record({ index: p.index, kind: p.kind, run: this.#c.run, atMs, ...l }));
    this.#track(task);
  }

  /** Keeps a task in the set settle() waits for. */
  #track(task: Promise<unknown>): void {
    const t = task.then(
      () => {},
      () => {},
    );
    this.#running.add(t);
    void t.finally(() => this.#running.delete(t));
  }

  /** Waits for every fault still in progress (bounded by the caller). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  async #land(p: PlannedFault, announce: Announce): Promise<Landing> {
    const kind: InProcessFaultKind = p.kind;
    switch (kind) {
      case 'worker-sigkill':
        return this.#signalWorker(p, 'SIGKILL', true, ['ERR_WORKER_EXITED']);
      case 'worker-sigstop-long':
        return this.#stopWorker(p, CHAOS_DEFAULTS.stopLongMs, true);
      case 'worker-sigstop-short': {
        const [lo, hi] = CHAOS_DEFAULTS.stopShortMs;
        return this.#stopWorker(p, Math.round(lo + p.param * (hi - lo)), false);
      }
      case 'tool-hang-async':
        return this.#hang(p, 'hang_async', {});
      case 'tool-hang-coop':
        return this.#hang(p, 'hang_coop', {});
      case 'tool-hang-stuck':
        return this.#stuck(p, announce);
      case 'tool-leak':
        return this.#leak(p, announce);
      case 'tool-leak-hard':
        return this.#leakHard(p, announce);
      case 'tool-escape':
        return this.#escape(p);
      case 'stderr-flood':
        return this.#stderrFlood(p);
      case 'shm-full':
        return this.#shm(p, shmFull);
      case 'worker-nondumpable':
        return this.#shm(p, workerNondumpable);
      case 'thread-throw':
        return this.#crashActor(p, announce, NAMES.threads, { op: 'throw' }, `error:${THROWN_MESSAGE}`);
      case 'thread-exit':
        return this.#crashActor(p, announce, NAMES.threads, { op: 'exit' }, 'ERR_THREAD_EXIT');
      case 'thread-uncaught':
        return this.#crashActor(p, announce, NAMES.threads, { op: 'uncaught' }, 'ERR_THREAD_UNCAUGHT');
      case 'thread-oom':
        return this.#crashActor(p, announce, NAMES.threads, { op: 'oom' }, 'ERR_THREAD_OUT_OF_MEMORY');
      case 'server-crash':
        return this.#crashActor(p, announce, NAMES.kv, { op: 'crash' }, `error:${CRASH_MESSAGE}`);
      case 'leader-crash':
        return this.#crashActor(
          p,
          announce,
          [NAMES.leader],
          { op: 'crash' },
          `error:${CRASH_MESSAGE}`,
          NAMES.leaderChild,
        );
      case 'task-throw':
        return this.#task(p, 'throw', 'ERR_TASK_FAILED');
      case 'task-exit':
        return this.#task(p, 'exit', 'ERR_TASK_WORKER_DIED');
      case 'task-pool-kill':
        return this.#killTaskPool();
      case 'disk-full':
        return diskFull(p);
    }
  }

  // ---- Python workers -----------------------------------------------------------------------------

  #pickWorker(p: PlannedFault, pools: readonly ToolPool[]): { pool: ToolPool; pid: number } | undefined {
    const pool = pools[p.pick % pools.length]!;
    const ready = pool
      .stats()
      .workers.filter((w) => w.state === 'ready')
      .sort((a, b) => a.slot - b.slot);
    if (ready.length === 0) return undefined;
    return { pool, pid: ready[Math.floor(p.pick / pools.length) % ready.length]!.pid };
  }

  /**
   * The pool-A worker a non-fatal tool fault aims at (stuck, leak), or the landing when there is
   * none to hit: no ready worker, or one already doomed by an earlier fault.
   */
  #poolATarget(p: PlannedFault): Landing | PoolATarget {
    const pool = this.#c.pools[0]!;
    const w = this.#pickWorker(p, [pool]);
    if (w === undefined) return noTarget(pool.name);
    const key = `${pool.name}:${w.pid}`;
    const base = { group: pool.name, target: String(w.pid), fatal: false as const };
    if (this.#doomed.has(key)) return { ...base, status: 'absorbed-doomed', expect: [] };
    return { pool, w, key, base };
  }

  /** One call of `tool` on the targeted worker (its session pins the call there), through the ledger. */
  #callTarget<T>(
    p: PlannedFault,
    t: PoolATarget,
    tool: string,
    args: Record<string, unknown>,
    timeoutMs: number,
    seen?: (v: T) => void,
    check?: (v: T) => string | undefined,
  ): Promise<Outcome> {
    return this.#c.ledger.run(
      `fault:${p.kind}`,
      timeoutMs,
      async () => {
        const v = await t.pool.call<T>(tool, args, { sessionId: targetSession(t.w.pid), timeoutMs });
        seen?.(v);
        return v;
      },
      check,
    );
  }

  /**
   * A call on a targeted worker that did not end as the fault expects: absorbed if the worker or
   * its pool went away meanwhile, else unexpected. "Went away" includes a fatal fault that landed on
   * the same worker while this call ran (seed 1266631772: tool-leak-hard 0.7 s into a
   * tool-hang-stuck call on that worker ended it with ERR_WORKER_MEMORY_LIMIT). That fault is judged
   * on its own, by the exit it predicts; this call was only in the way.
   */
  #callEnded(t: PoolATarget, code: string, note = `ended with ${code}`): Landing {
    if (this.#doomed.has(t.key))
      return {
        ...t.base,
        status: 'absorbed-doomed',
        expect: [],
        note: `${note}; another fault ended its worker`,
      };
    const gone = POOL_GONE.includes(code) || code === 'ERR_CHAOS_TARGET_GONE';
    return { ...t.base, status: gone ? 'absorbed-dead' : 'unexpected', expect: [], note };
  }

  #signalWorker(p: PlannedFault, signal: NodeJS.Signals, fatal: boolean, expect: string[]): Landing {
    const w = this.#pickWorker(p, this.#c.pools);
    if (w === undefined) return noTarget('pool');
    const key = `${w.pool.name}:${w.pid}`;
    const doomed = this.#doomed.has(key);
    try {
      process.kill(w.pid, signal);
    } catch {
      return { group: w.pool.name, target: String(w.pid), status: 'absorbed-dead', fatal, expect: [] };
    }
    // On a doomed target the signal still lands (SIGKILL ends a stopped worker at once), so its
    // exit may carry this fault's code rather than the first fault's: keep `expect` either way.
    if (doomed)
      return { group: w.pool.name, target: String(w.pid), status: 'absorbed-doomed', fatal, expect };
    this.#doomed.add(key);
    return { group: w.pool.name, target: String(w.pid), status: 'effective', fatal, expect };
  }

  async #stopWorker(p: PlannedFault, ms: number, fatal: boolean): Promise<Landing> {
    const w = this.#pickWorker(p, this.#c.pools);
    if (w === undefined) return noTarget('pool');
    const st = readProcStat(w.pid);
    const key = `${w.pool.name}:${w.pid}`;
    const doomed = this.#doomed.has(key);
    try {
      process.kill(w.pid, 'SIGSTOP');
    } catch {
      return { group: w.pool.name, target: String(w.pid), status: 'absorbed-dead', fatal, expect: [] };
    }
    if (fatal && !doomed) this.#doomed.add(key);
    // The landing is recorded now, not after the SIGCONT: the heartbeat may kill the worker (and
    // the host may be killed) long before the stop ends.
    this.#track(
      sleep(ms).then(() => {
        // SIGCONT only the very process we stopped (a pid is reused only with another start time).
        if (st !== undefined && isProcessAlive(w.pid, st.startTime)) {
          try {
            process.kill(w.pid, 'SIGCONT');
          } catch {
            // it exited meanwhile
          }
        }
      }),
    );
    const landing: Landing = {
      group: w.pool.name,
      target: String(w.pid),
      status: doomed ? 'absorbed-doomed' : fatal ? 'effective' : 'non-fatal',
      fatal,
      expect: fatal ? ['ERR_HEARTBEAT_MISSED'] : [],
      note: `stopped ${ms} ms`,
    };
    if (!fatal || doomed) return landing;
    // Issue 13, defect 6: the stopped worker must be killed within (misses + 1) heartbeat
    // intervals of the stop. The time is this fault's figure (docs/reliability.md).
    const stoppedAt = performance.now();
    const bound = (CHAOS_DEFAULTS.heartbeatMisses + 1) * CHAOS_DEFAULTS.heartbeatIntervalMs;
    const exited = await this.#c.exited.wait(w.pool.name, w.pid, ms);
    if (exited === undefined) return { ...landing, note: `stopped ${ms} ms; no exit seen while stopped` };
    const detectMs = Math.round(exited - stoppedAt);
    const late = detectMs > bound + CHAOS_DEFAULTS.stopDetectSlackMs;
    return {
      ...landing,
      status: late ? 'unexpected' : landing.status,
      note: `stopped ${ms} ms; detected (killed) after ${detectMs} ms (bound ${bound} ms)`,
    };
  }

  async #hang(p: PlannedFault, tool: string, args: Record<string, unknown>): Promise<Landing> {
    const pool = this.#c.pools[0]!;
    const timeoutMs = CHAOS_DEFAULTS.hangCallTimeoutMs;
    const o = await this.#c.ledger.run(`fault:${p.kind}`, timeoutMs, () =>
      pool.call(tool, args, { timeoutMs }),
    );
    // The hang call runs on whichever worker the pool picks, for seconds: a leak fault scheduled on
    // that same worker meanwhile gets it killed for its memory cap under the call (seed 954877052:
    // tool-leak-hard 0.7 s after tool-hang-coop). That leak fault is judged on its own; here the
    // call was only in the way, as with any other exit.
    return judgeNonFatal(pool.name, o, ['ERR_DEADLINE_EXCEEDED'], [...POOL_GONE, 'ERR_WORKER_MEMORY_LIMIT']);
  }

  /**
   * A tool that ignores cancellation, aimed at one worker of pool A: its call ends at its deadline
   * with ERR_DEADLINE_EXCEEDED, but its Python thread (and the worker's slot) stays busy for
   * stuckHoldS. The bridge must see the worker wedged (its heartbeat reports the execution as
   * abandoned), stop sending it calls into that slot, and recycle it long before the tool returns.
   */
  async #stuck(p: PlannedFault, announce: Announce): Promise<Landing> {
    const t = this.#poolATarget(p);
    if ('status' in t) return t;
    const { pool, w, key, base } = t;
    announce(pool.name, String(w.pid), ['wedged'], false);
    const args = { seconds: CHAOS_DEFAULTS.stuckHoldS };
    const o = await this.#callTarget(p, t, 'hang_stuck', args, CHAOS_DEFAULTS.hangCallTimeoutMs);
    const code = outcomeCode(o);
    if (code !== 'ERR_DEADLINE_EXCEEDED')
      return this.#callEnded(t, code, `the stuck call ended with ${code}`);
    // The worker reports the stuck execution as abandoned in its next heartbeat: from then on the
    // host sends it no call into that slot, and recycles it after wedgeBeats such beats (at once if
    // abandoned executions hold every slot). So: recycled within recycleWithinMs of the deadline.
    const recycled =
      (await this.#c.recycled.wait(pool.name, w.pid, CHAOS_DEFAULTS.recycleWithinMs)) !== undefined;
    if (recycled) return { ...base, status: 'effective', expect: ['wedged'], note: 'recycled as wedged' };
    if (this.#doomed.has(key)) return { ...base, status: 'absorbed-doomed', expect: [] };
    return {
      ...base,
      status: 'unexpected',
      expect: [],
      note: `its worker was not recycled within ${CHAOS_DEFAULTS.recycleWithinMs} ms of the deadline although a thread stayed busy for ${CHAOS_DEFAULTS.stuckHoldS} s`,
    };
  }

  /**
   * A tool that leaks: `leak(24 MiB)` calls aimed at one worker of pool A until its RSS passes the
   * pool's maxRssMb; then the bridge must recycle it (a fresh process takes its place, the old one
   * drains and exits: not an exit of the actor, not a restart) within recycleWithinMs.
   */
  async #leak(p: PlannedFault, announce: Announce): Promise<Landing> {
    const t = this.#poolATarget(p);
    if ('status' in t) return t;
    const { pool, w, key, base } = t;
    // Recorded before the first call: the recycle may be reported before this fault has landed.
    announce(pool.name, String(w.pid), ['max_rss'], false);
    const mb = CHAOS_DEFAULTS.leakMbPerCall;
    // Up to the bridge's graceful-recycle share of maxRssMb (BRIDGE_DEFAULTS.softRssRatio): past it
    // the worker is replaced while it serves; the hard limit itself is tool-leak-hard's.
    const limit = CHAOS_DEFAULTS.poolAMaxRssMb * BRIDGE_DEFAULTS.softRssRatio * 1024 * 1024;
    let rss = 0;
    let ended = '';
    for (let i = 0; i < CHAOS_DEFAULTS.leakMaxCalls && rss <= limit; i++) {
      const o = await this.#callTarget<number>(p, t, 'leak', { mb }, 5000, (v) => {
        rss = v;
      });
      if (o.kind !== 'ok') {
        // ERR_CHAOS_TARGET_GONE: the bridge recycled it already (a heartbeat saw the RSS first).
        ended = outcomeCode(o);
        break;
      }
    }
    const recycled =
      (await this.#c.recycled.wait(pool.name, w.pid, CHAOS_DEFAULTS.recycleWithinMs)) !== undefined;
    if (recycled)
      return {
        ...base,
        status: 'effective',
        expect: ['max_rss'],
        note: `RSS ${(rss / 2 ** 20).toFixed(0)} MiB, recycled by maxRssMb`,
      };
    if (this.#doomed.has(key))
      return { ...base, status: 'absorbed-doomed', expect: [], note: `another fault ended it (${ended})` };
    if (ended !== '' && ended !== 'ERR_CHAOS_TARGET_GONE' && POOL_GONE.includes(ended))
      return { ...base, status: 'absorbed-dead', expect: [], note: `leak call ended with ${ended}` };
    return {
      ...base,
      status: 'unexpected',
      expect: [],
      note: `RSS ${(rss / 2 ** 20).toFixed(0)} MiB (maxRssMb ${CHAOS_DEFAULTS.poolAMaxRssMb}) and no recycle within ${CHAOS_DEFAULTS.recycleWithinMs} ms${ended ? `; last leak call: ${ended}` : ''}`,
    };
  }

  /**
   * Issue 13, defect 7: `leak(100 MiB)` calls aimed at one worker of pool A (maxRssMb 120) until
   * one fails. The kernel cap (or the 100 ms RSS poll) must end the worker: the call fails with
   * ERR_WORKER_MEMORY_LIMIT, the worker exits with it (fatal, matched with its restart), and its RSS
   * never goes above maxRssMb + 10% (the end-of-run check reads the pools' peak).
   */
  async #leakHard(p: PlannedFault, announce: Announce): Promise<Landing> {
    const t = this.#poolATarget(p);
    if ('status' in t) return t;
    const { pool, w, key, base } = t;
    this.#doomed.add(key);
    announce(pool.name, String(w.pid), ['ERR_WORKER_MEMORY_LIMIT']);
    const mb = CHAOS_DEFAULTS.leakHardMbPerCall;
    let ended = '';
    for (let i = 0; i < CHAOS_DEFAULTS.leakMaxCalls && ended === ''; i++) {
      const o = await this.#callTarget(p, t, 'leak', { mb }, 5000);
      if (o.kind !== 'ok') ended = outcomeCode(o);
    }
    const peak = `pool peak RSS ${(pool.stats().peakWorkerRssBytes / 2 ** 20).toFixed(0)} MiB of ${CHAOS_DEFAULTS.poolAMaxRssMb}`;
    const fatalBase = { ...base, fatal: true };
    if (ended === 'ERR_WORKER_MEMORY_LIMIT')
      return { ...fatalBase, status: 'effective', expect: ['ERR_WORKER_MEMORY_LIMIT'], note: peak };
    if (ended === 'ERR_CHAOS_TARGET_GONE' || POOL_GONE.includes(ended))
      return { ...fatalBase, status: 'absorbed-doomed', expect: [], note: `leak call ended with ${ended}` };
    return {
      ...fatalBase,
      status: 'unexpected',
      expect: [],
      note: `${CHAOS_DEFAULTS.leakMaxCalls} leaks of ${mb} MiB ended with ${ended || 'success'}; ${peak}`,
    };
  }

  /**
   * Issue 13, defect 1: a tool starts three `sleep`s that try to outlive its worker (plain child,
   * new session, double fork). Non-fatal: the call succeeds; whatever later ends the worker (a
   * kill, a recycle, the host's kill -9, the final stop) must take them along. The driver checks at
   * the end that none survived (their pids and start times are in TRELLIS_CHAOS_ESCAPE_DIR).
   */
  async #escape(p: PlannedFault): Promise<Landing> {
    const t = this.#poolATarget(p);
    if ('status' in t) return t;
    const o = await this.#callTarget(p, t, 'spawn_escapees', {}, 5000);
    if (o.kind === 'ok')
      return { ...t.base, status: 'non-fatal', expect: [], note: 'three escapees started' };
    return this.#callEnded(t, outcomeCode(o));
  }

  /**
   * Issue 13, defect 3: one 50 MiB stderr line without a newline, from a pool-A worker. The host
   * reads it into onStderr: the call must succeed and nothing may exit (a stall of the host's event
   * loop used to get the worker killed for missed heartbeats).
   */
  async #stderrFlood(p: PlannedFault): Promise<Landing> {
    const t = this.#poolATarget(p);
    if ('status' in t) return t;
    const t0 = performance.now();
    const o = await this.#callTarget(p, t, 'stderr_line', { mib: CHAOS_DEFAULTS.stderrFloodMib }, 20_000);
    const ms = Math.round(performance.now() - t0);
    const note = `${CHAOS_DEFAULTS.stderrFloodMib} MiB line in ${ms} ms`;
    if (o.kind === 'ok') return { ...t.base, status: 'non-fatal', expect: [], note };
    return this.#callEnded(t, outcomeCode(o));
  }

  /**
   * A shared-memory fault (shm-faults.ts) on one pool-A worker: no room for a result segment, or a
   * worker turned non-dumpable. Non-fatal: the worker must serve on, so nothing is announced (an
   * exit or recycle it caused is unexplained for the matching rule and fails the run by itself).
   */
  async #shm(
    p: PlannedFault,
    fault: (t: ShmTarget<Landing>, seed: number) => Promise<{ status: FaultStatus; note: string } | Landing>,
  ): Promise<Landing> {
    const t = this.#poolATarget(p);
    if ('status' in t) return t;
    const target: ShmTarget<Landing> = {
      call: <T>(tool: string, args: Record<string, unknown>, check?: (v: T) => string | undefined) =>
        this.#callTarget<T>(p, t, tool, args, SHM_CALL_TIMEOUT_MS, undefined, check),
      ended: (code, note) => this.#callEnded(t, code, note),
    };
    const r = await fault(target, Math.floor(p.param * 256));
    if ('group' in r) return r;
    return { ...t.base, expect: [], ...r };
  }

  // ---- actors ------------------------------------------------------------------------------------

  async #crashActor(
    p: PlannedFault,
    announce: Announce,
    names: readonly string[],
    req: unknown,
    expectCode: string,
    group?: string,
  ): Promise<Landing> {
    const name = names[p.pick % names.length]!;
    const g = group ?? name;
    const pid = whereis(name);
    if (pid === undefined)
      return {
        group: g,
        target: undefined,
        status: 'absorbed-dead',
        fatal: true,
        expect: [],
        note: `${name} not registered (restarting)`,
      };
    const key = `${g}:${pid}`;
    const wasDoomed = this.#doomed.has(key);
    // Doomed from the moment the request is sent: a second fault racing this one is absorbed.
    this.#doomed.add(key);
    if (!wasDoomed) announce(g, pid, [expectCode]);
    let err: unknown;
    const t = CHAOS_DEFAULTS.faultCallTimeoutMs;
    const o = await this.#c.ledger.run(`fault:${p.kind}`, t, () =>
      call(pid, req, t).catch((e: unknown) => {
        err = e;
        throw e;
      }),
    );
    const base = { group: g, target: pid as string, fatal: true };
    if (o.kind === 'error' && o.code === 'ERR_CALL_SERVER_EXITED') {
      const got = exitCode((err as CallError).reason as { type: string; cause?: unknown });
      if (got === expectCode && !wasDoomed) return { ...base, status: 'effective', expect: [expectCode] };
      if (!wasDoomed) this.#doomed.delete(key);
      return { ...base, status: 'absorbed-doomed', expect: [], note: `it exited with ${got}` };
    }
    if (!wasDoomed) this.#doomed.delete(key);
    if (o.kind === 'error' && o.code === 'ERR_NOPROC')
      return { ...base, status: 'absorbed-dead', expect: [] };
    return { ...base, status: 'unexpected', expect: [], note: `the crash call ended with ${describe(o)}` };
  }

  async #task(p: PlannedFault, op: 'throw' | 'exit', expectCode: string): Promise<Landing> {
    const o = await this.#c.ledger.run(`fault:${p.kind}`, CHAOS_DEFAULTS.taskTimeoutMs, () =>
      runTask(NAMES.tasks, { op }, { timeoutMs: CHAOS_DEFAULTS.taskTimeoutMs }),
    );
    return judgeNonFatal(NAMES.tasks, o, [expectCode], ['ERR_NOPROC', 'ERR_TASK_POOL_STOPPED']);
  }

  #killTaskPool(): Landing {
    const pid = whereis(NAMES.tasks) as Pid | undefined;
    if (pid === undefined)
      return { group: NAMES.tasks, target: undefined, status: 'absorbed-dead', fatal: true, expect: [] };
    const key = `${NAMES.tasks}:${pid}`;
    exit(pid, 'kill');
    if (this.#doomed.has(key))
      return { group: NAMES.tasks, target: pid, status: 'absorbed-doomed', fatal: true, expect: ['killed'] };
    this.#doomed.add(key);
    return { group: NAMES.tasks, target: pid, status: 'effective', fatal: true, expect: ['killed'] };
  }
}

/** Codes that mean "the pool or worker went away meanwhile" (another fault): the call was absorbed. */
const POOL_GONE = ['ERR_WORKER_EXITED', 'ERR_WORKER_UNAVAILABLE', 'ERR_QUEUE_TIMEOUT', 'ERR_POOL_CLOSED'];

/** An outcome's error code, or its kind when it has none (`unclean`, `hang`, ...). */
function outcomeCode(o: Outcome): string {
  return o.kind === 'error' ? o.code : o.kind;
}

function judgeNonFatal(
  group: string,
  o: Outcome,
  expected: readonly string[],
  absorbed: readonly string[],
): Landing {
  const code = o.kind === 'error' ? o.code : undefined;
  const status: FaultStatus =
    code !== undefined && expected.includes(code)
      ? 'non-fatal'
      : code !== undefined && absorbed.includes(code)
        ? 'absorbed-dead'
        : 'unexpected';
  return {
    group,
    target: undefined,
    status,
    fatal: false,
    expect: [],
    note: status === 'non-fatal' ? undefined : `ended with ${describe(o)}`,
  };
}

/**
 * The home's filesystem fills up (disk-fill.ts). Non-fatal: nothing may exit because of it; the
 * registry must refuse new records with ERR_REGISTRY_UNAVAILABLE, and the run goes on.
 */
async function diskFull(p: PlannedFault): Promise<Landing> {
  const home = process.env.TRELLIS_HOME;
  if (home === undefined || process.env[SMALL_HOME_ENV] !== '1') {
    return {
      ...noTarget('home'),
      note: 'the home is not on a tmpfs of its own (needs root): nothing to fill',
    };
  }
  const [lo, hi] = CHAOS_DEFAULTS.diskFullHoldMs;
  const r = await fillDisk(home, Math.round(lo + p.param * (hi - lo)));
  const note = `full for ${Math.round(r.fullMs)} ms after ${(r.filledBytes / 2 ** 20).toFixed(1)} MiB; ${r.acceptedBeforeRefusal} record(s) accepted, then ${r.refusalCode ?? 'no refusal'}`;
  const ok =
    r.refusalCode === 'ERR_REGISTRY_UNAVAILABLE' && /filesystem is full/.test(r.refusalMessage ?? '');
  return {
    group: 'home',
    target: home,
    status: ok ? 'non-fatal' : 'unexpected',
    fatal: false,
    expect: [],
    note: ok ? note : `${note}: ${r.refusalMessage ?? 'the registry never refused a record on a full disk'}`,
  };
}

function noTarget(group: string): Landing {
  return { group, target: undefined, status: 'no-target', fatal: false, expect: [] };
}

function describe(o: Outcome): string {
  switch (o.kind) {
    case 'ok':
      return 'success';
    case 'error':
      return o.code;
    case 'hang':
      return 'no outcome (hang)';
    default:
      return `${o.kind}: ${o.what}`;
  }
}
