/**
 * PythonWorker: one Python worker process and its gRPC channel, as a gen_server in the pool's
 * supervisor (a simple_one_for_one of these; see tool-pool.ts).
 *
 *   init       adopts the slot's process from the Launcher (or launches one) and returns once it is
 *              ready: readiness line read, channel connected, tools described. Then it joins the
 *              dispatcher and starts heartbeats. A start failure fails init with its precise error
 *              (ERR_WORKER_START_FAILED, ERR_PYTHON_SDK_MISSING, ERR_PYTHON_NOT_FOUND).
 *   running    the process's exit (any code or signal) stops the actor with ERR_WORKER_EXITED, so
 *              the supervisor restarts it. Every heartbeat interval the host sends Heartbeat; after
 *              `heartbeatMisses` unanswered ones in a row the process is SIGKILLed and the actor
 *              stops with ERR_HEARTBEAT_MISSED.
 *   terminate  (shutdown by the supervisor) drains: the worker takes no new calls, and its calls in
 *              flight get up to `graceMs` to finish. Then SIGTERM: the worker cancels whatever still
 *              runs (the tools see ctx.cancelled) and exits within cancelGraceMs; SIGKILL to the
 *              group after killMarginMs more. The supervisor's shutdown time for this child is
 *              graceMs + a larger margin, so the drain is never cut short.
 *
 *              The drain is the host's, not Python's own SIGTERM drain: a call the host has sent
 *              but the worker's gRPC server has not picked up yet would be refused by a server
 *              that is shutting down; waiting for the host's count of calls in flight to reach
 *              zero first lets those calls finish too.
 *
 * Calls do not pass through this actor: the dispatcher hands the worker's gRPC client straight to
 * the caller. The actor owns the process's life, not its traffic.
 *
 * A safety net covers an actor killed without terminate (an untrappable `kill`): a monitor on the
 * actor SIGKILLs the process group if it is still there.
 */
import type { ServiceError } from '@grpc/grpc-js';
import {
  defineServer,
  Exit,
  type ExitReason,
  formatReason,
  ignore,
  noreply,
  type ServerContext,
  stop,
  type TimerHandle,
} from '@trellis/core';
import { statusName } from '../call/errors.js';
import { BRIDGE_DEFAULTS } from '../defaults.js';
import {
  HeartbeatMissedError,
  isNodeLoss,
  nodeLostError,
  type WorkerExit,
  WorkerExitedError,
  WorkerMemoryLimitError,
} from '../errors.js';
import type { HeartbeatResponse__Output } from '../generated/trellis/bridge/v1/HeartbeatResponse.js';
import { PoolWorker } from '../pool/dispatcher.js';
import { memoryExitError } from './memory-limit.js';
import type { WorkerHandle } from './worker-handle.js';
import type { WorkerHost } from './worker-host.js';

interface WorkerState {
  readonly host: WorkerHost;
  readonly slot: number;
  /** The process taking calls now; replaced by a fresh one on a recycle. */
  wp: WorkerHandle;
  poolWorker: PoolWorker;
  hbTimer: TimerHandle | undefined;
  hbSeq: number;
  /** When the heartbeat in flight was sent (clock ms). */
  hbSentAt: number;
  misses: number;
  /** Heartbeats in a row that reported abandoned executions (see PoolWorker.reportedAbandoned). */
  wedgedBeats: number;
  /** `poolWorker.suspectRaised` when the heartbeat in flight was sent: its answer settles those. */
  hbSuspectMark: number;
  /** The pending heartbeat timer is an early one (abandonProbeMs), not a whole interval. */
  hbEarly: boolean;
  lastHbError: string | undefined;
  ttlTimer: TimerHandle | undefined;
  /** A recycle is under way (its fresh process is starting). */
  recycling: boolean;
  /** The fresh process of a recycle while it starts. */
  launching: Promise<WorkerHandle> | undefined;
  /** Replacements in a row that failed to start. */
  recycleFailures: number;
  /** Recycled processes finishing their calls before they are stopped. */
  readonly retiring: Map<WorkerHandle, Promise<void>>;
  /** The RSS poll's timer (memory-limit.ts), while maxRssMb is set. */
  rssTimer: TimerHandle | undefined;
}

type Info =
  | { readonly type: '$py_exit'; readonly exit: WorkerExit; readonly pid: number }
  | { readonly type: '$hb_tick' }
  | {
      readonly type: '$hb_result';
      readonly seq: number;
      /** The PoolWorker (process) the heartbeat was sent to. */
      readonly workerId: number;
      readonly error: string | undefined;
      readonly rss: number | undefined;
      /** Executions still holding a slot in Python although their call is over. */
      readonly abandoned?: number | undefined;
    }
  | { readonly type: '$probe_soon' }
  | { readonly type: '$rss_tick' }
  | { readonly type: '$recycle'; readonly reason: string; readonly detail: string }
  | { readonly type: '$fresh'; readonly wp: WorkerHandle; readonly reason: string; readonly detail: string }
  | { readonly type: '$fresh_failed'; readonly error: unknown };

const MIB = 1024 * 1024;
/** Replacement processes that may fail to start in a row before the worker gives up (see $fresh_failed). */
const RECYCLE_ATTEMPTS = 3;

/**
 * What crash and terminate reports and sys:get_status (the observer's status view) show of a
 * worker's state, as OTP's format_status/1 trims a state: the state holds the pool's host (its
 * shared secret, the `env` option that often carries users' API keys, every option) and the gRPC
 * client, none of which may reach a log line. The pool's name and the worker's own counters are
 * what a reader of the report needs.
 */
function workerStatus(st: WorkerState): Record<string, unknown> {
  const pw = st.poolWorker;
  return {
    pool: st.host.o.name,
    slot: st.slot,
    pid: st.wp.pid,
    address: st.wp.address,
    inFlight: pw.inFlight,
    served: pw.served,
    failed: pw.failed,
    dispatched: pw.dispatched,
    heartbeatMisses: st.misses,
    lastHeartbeatError: st.lastHbError,
    wedgedBeats: st.wedgedBeats,
    recycling: st.recycling,
    recycleFailures: st.recycleFailures,
    retiring: st.retiring.size,
  };
}

export const PythonWorker = defineServer<WorkerState, [WorkerHost, number], never, never, never, Info>({
  formatStatus: ({ state, message, reason }) => ({
    // init may fail before there is a state (the report then has none to trim).
    state: state === undefined ? undefined : workerStatus(state),
    message,
    reason,
  }),
  async init(ctx: ServerContext, host: WorkerHost, slot: number) {
    let wp: WorkerHandle;
    try {
      wp = await host.adoptProcess(slot);
    } catch (e) {
      // Its node went away while it started: the slot goes with the node (not a start failure).
      if (isNodeLoss(e) && host.slotLost(slot, e)) return ignore();
      host.startFailed(slot, e);
      throw e;
    }
    if (!ctx.alive) {
      // Killed while the process was starting: nobody else will ever stop it.
      wp.kill();
      void wp.exited.then(() => wp.close());
      return stop(Exit.killed, undefined as unknown as WorkerState);
    }
    const restart = host.started(slot, ctx.self);
    const st: WorkerState = {
      host,
      slot,
      wp,
      poolWorker: new PoolWorker(host.nextWorkerId(), slot, host.o.maxConcurrentPerWorker, wp),
      hbTimer: undefined,
      hbSeq: 0,
      hbSentAt: 0,
      misses: 0,
      wedgedBeats: 0,
      hbSuspectMark: 0,
      hbEarly: false,
      lastHbError: undefined,
      ttlTimer: undefined,
      recycling: false,
      launching: undefined,
      recycleFailures: 0,
      retiring: new Map(),
      rssTimer: undefined,
    };
    const node = ctx.node;
    const self = ctx.self;
    node.monitor((reason: ExitReason) => {
      // Safety net for an actor killed without terminate: no process of it may outlive it.
      const cur = st.wp;
      for (const p of [cur, ...st.retiring.keys()]) {
        if (p.exit === undefined) p.kill();
        void p.exited.then(() => p.close());
      }
      void st.launching?.then(
        (p) => {
          p.kill();
          void p.exited.then(() => p.close());
        },
        () => {},
      );
      const cause = reason.type === 'error' ? (reason.cause as { code?: unknown } | undefined) : undefined;
      host.events.worker.exited(slot, { id: st.poolWorker.id, pid: cur.pid }, cur.exit, {
        type: reason.type,
        code: typeof cause?.code === 'string' ? cause.code : undefined,
        message: formatReason(reason),
      });
    }, self);
    attach(st, ctx, wp, st.poolWorker);
    host.events.worker.ready(slot, st.poolWorker, wp, restart);
    // Registered once per actor (a recycle swaps the process inside the same actor); the key is the
    // pool's slot, so the monitor counts a restarted worker as the same actor's next incarnation.
    try {
      host.o.healthMonitor?.register?.(ctx.self, {
        intervalMs: host.o.heartbeatIntervalMs,
        key: `${host.o.name}/worker-${slot}`,
        kind: 'python',
        supervisor: ctx.parent,
      });
    } catch (e) {
      // Monitoring is an observer of the worker, never a reason for it not to start.
      host.o.onStderr?.(`health monitor refused worker ${slot}: ${(e as Error).message}`, wp.pid);
    }
    scheduleHeartbeat(st, ctx);
    scheduleRssPoll(st, ctx);
    return st;
  },

  handleInfo(msg: Info, st: WorkerState, ctx: ServerContext) {
    switch (msg.type) {
      case '$py_exit':
        // A retired process's exit is expected; only the current one's ends the actor.
        if (msg.pid !== st.wp.pid) return noreply(st);
        // Lost with its node: the slot is removed with the node, not restarted (a shutdown reason
        // for the transient child), and its calls fail with ERR_NODE_DOWN / ERR_NODE_UNREACHABLE.
        if (msg.exit.node !== undefined) {
          const lost = nodeLostError({ ...msg.exit, node: msg.exit.node }, undefined, false);
          if (st.host.slotLost(st.slot, lost)) return stop(Exit.shutdown(lost), st);
        }
        // Killed by the host for a fault of its own, or out of memory under its cap: say so.
        return stop(
          Exit.error(
            st.wp.killCause ??
              memoryExitError(msg.exit, st.host.o.maxRssMb, st.poolWorker.rssBytes) ??
              new WorkerExitedError(msg.exit),
          ),
          st,
        );
      case '$rss_tick':
        st.rssTimer = undefined;
        pollRss(st, ctx);
        scheduleRssPoll(st, ctx);
        return noreply(st);
      case '$hb_tick':
        st.hbTimer = undefined;
        st.hbEarly = false;
        sendHeartbeat(st, ctx);
        return noreply(st);
      case '$probe_soon':
        // A call just ended by deadline or cancellation: learn soon whether its tool let go of its
        // slot. A heartbeat in flight cannot tell (it was sent before); its answer schedules an
        // early one instead (see $hb_result).
        if (st.hbTimer !== undefined && !st.hbEarly) {
          ctx.clock.clearTimeout(st.hbTimer);
          scheduleHeartbeat(st, ctx, BRIDGE_DEFAULTS.abandonProbeMs);
          st.hbEarly = true;
        }
        return noreply(st);
      case '$hb_result': {
        if (msg.seq !== st.hbSeq) return noreply(st);
        if (msg.workerId !== st.poolWorker.id) {
          // Sent to the process a recycle has since replaced: it says nothing of the current one.
          scheduleHeartbeat(st, ctx);
          return noreply(st);
        }
        if (msg.error === undefined) {
          st.misses = 0;
          // The Python process's own RSS, read from /proc by the host (the heartbeat's figure
          // where /proc cannot be read).
          const rss = st.wp.readRss() ?? msg.rss;
          st.poolWorker.rssBytes = rss;
          st.poolWorker.cpuSeconds = st.wp.readCpuSeconds();
          st.poolWorker.lastHeartbeatAt = Date.now();
          st.host.o.healthMonitor?.beat(ctx.self);
          // A tool that ignores cancellation keeps its slot (and its Python thread) after its call
          // ended; the worker reports such abandoned executions. The dispatcher counts them as
          // load, so no call is sent into a stuck slot. A worker whose abandoned executions hold
          // every slot serves nothing, and one that keeps any for `wedgeBeats` beats has lost
          // capacity for good: either is wedged, and is recycled (a fresh process takes its place;
          // the old one finishes its calls in flight and is then stopped, which ends the stuck tool).
          const abandoned = msg.abandoned ?? 0;
          st.host.dispatcher.setAbandoned(st.poolWorker, abandoned, st.hbSuspectMark);
          st.wedgedBeats = abandoned > 0 ? st.wedgedBeats + 1 : 0;
          if (
            abandoned > 0 &&
            Number.isFinite(st.host.o.wedgeBeats) &&
            (abandoned >= st.host.o.concurrency || st.wedgedBeats >= st.host.o.wedgeBeats)
          ) {
            st.wedgedBeats = 0;
            requestRecycle(
              st,
              ctx,
              'wedged',
              `${abandoned} of its ${st.host.o.concurrency} slot(s) held by tool execution(s) still running after their call ended (a tool that ignores cancellation)`,
            );
          }
          if (rss !== undefined) checkSoftRss(st, ctx, rss);
        } else {
          st.misses++;
          st.lastHbError = msg.error;
          if (st.misses >= st.host.o.heartbeatMisses) {
            const err = new HeartbeatMissedError(
              st.wp.pid,
              st.misses,
              st.host.o.heartbeatIntervalMs,
              st.lastHbError,
            );
            // The calls in flight fail with this as their cause (see Call.workerExited).
            st.wp.killFor(err);
            return stop(Exit.error(err), st);
          }
        }
        // Calls that became suspect while this heartbeat was in flight are settled by the next (not
        // after a failed one: misses keep their pace of one per interval).
        st.hbEarly = msg.error === undefined && st.poolWorker.suspect > 0;
        // After a miss, the next probe goes one interval after this one was *sent*: a probe that
        // timed out has already used its interval, and waiting a whole one more made each miss
        // cost two (a stopped worker was detected after ~12 s instead of ~6 s). A probe that failed
        // fast still waits out its interval, so misses keep their pace of one per interval.
        const next = st.hbEarly
          ? BRIDGE_DEFAULTS.abandonProbeMs
          : msg.error === undefined
            ? st.host.o.heartbeatIntervalMs
            : Math.max(0, st.hbSentAt + st.host.o.heartbeatIntervalMs - ctx.clock.now());
        scheduleHeartbeat(st, ctx, next);
        return noreply(st);
      }
      case '$recycle':
        requestRecycle(st, ctx, msg.reason, msg.detail);
        return noreply(st);
      case '$fresh':
        swap(st, ctx, msg.wp, msg.reason, msg.detail);
        return noreply(st);
      case '$fresh_failed': {
        st.launching = undefined;
        st.recycling = false;
        const e = msg.error;
        st.host.events.worker.startFailed(st.slot, e);
        // Bounded: a replacement that keeps failing to start ends this worker with the start error,
        // and the supervisor's restart intensity takes over.
        if (++st.recycleFailures >= RECYCLE_ATTEMPTS) return stop(Exit.error(e), st);
        // The old process keeps serving (or, at maxCalls, waits to be replaced): try again later.
        if (st.ttlTimer !== undefined) ctx.clock.clearTimeout(st.ttlTimer);
        const node = ctx.node;
        const self = ctx.self;
        st.ttlTimer = ctx.clock.setTimeout(() => {
          st.ttlTimer = undefined;
          node.send(self, {
            type: '$recycle',
            reason: 'retry',
            detail: 'replacement failed to start',
          } satisfies Info);
        }, st.host.o.heartbeatIntervalMs);
        return noreply(st);
      }
    }
  },

  async terminate(_reason: ExitReason, st: WorkerState, ctx: ServerContext) {
    if (st === undefined) return;
    if (st.hbTimer !== undefined) ctx.clock.clearTimeout(st.hbTimer);
    st.hbTimer = undefined;
    if (st.ttlTimer !== undefined) ctx.clock.clearTimeout(st.ttlTimer);
    st.ttlTimer = undefined;
    if (st.rssTimer !== undefined) ctx.clock.clearTimeout(st.rssTimer);
    st.rssTimer = undefined;
    const fresh = st.launching;
    st.launching = undefined;
    const stopFresh = fresh?.then(
      async (p) => {
        p.kill();
        await p.exited;
        p.close();
      },
      () => {},
    );
    st.host.dispatcher.drain(st.poolWorker);
    if (st.wp.exit === undefined && st.poolWorker.inFlight > 0) {
      let timer: TimerHandle | undefined;
      await Promise.race([
        st.poolWorker.whenIdle(),
        st.wp.exited,
        new Promise<void>((r) => {
          timer = ctx.clock.setTimeout(r, st.host.o.graceMs);
        }),
      ]);
      if (timer !== undefined) ctx.clock.clearTimeout(timer);
    }
    // Stops the process when it is still there; otherwise only makes sure its group is gone.
    await Promise.all([
      st.wp.stop(BRIDGE_DEFAULTS.cancelGraceMs + BRIDGE_DEFAULTS.killMarginMs),
      ...[...st.retiring.keys()].map((p) =>
        p.stop(BRIDGE_DEFAULTS.cancelGraceMs + BRIDGE_DEFAULTS.killMarginMs),
      ),
      stopFresh,
    ]);
    await Promise.all(st.retiring.values());
    st.wp.close();
  },
});

/** Wires a ready process into the pool: exit tracking, the dispatcher, its recycling limits. */
function attach(st: WorkerState, ctx: ServerContext, wp: WorkerHandle, poolWorker: PoolWorker): void {
  const host = st.host;
  const node = ctx.node;
  const self = ctx.self;
  // Synchronously from the exit event: in-flight calls fail now, not at their time-out.
  wp.onExit((exit) => {
    host.dispatcher.gone(poolWorker, exit);
    node.send(self, { type: '$py_exit', exit, pid: wp.pid } satisfies Info);
  });
  if (Number.isFinite(host.o.maxCalls)) {
    poolWorker.maxDispatched = host.o.maxCalls;
    poolWorker.onLimit = () =>
      node.send(self, {
        type: '$recycle',
        reason: 'max_calls',
        detail: `served maxCalls (${host.o.maxCalls}) calls`,
      } satisfies Info);
  }
  poolWorker.onSuspect = () => node.send(self, { type: '$probe_soon' } satisfies Info);
  host.setTools(wp.tools);
  poolWorker.actorPid = self;
  // Figures from the start, before the first heartbeat answers.
  poolWorker.rssBytes = wp.readRss();
  poolWorker.cpuSeconds = wp.readCpuSeconds();
  host.dispatcher.add(poolWorker);
  armTtl(st, ctx, host.o.ttlMs);
}

function armTtl(st: WorkerState, ctx: ServerContext, ms: number): void {
  if (st.ttlTimer !== undefined) ctx.clock.clearTimeout(st.ttlTimer);
  st.ttlTimer = undefined;
  if (!Number.isFinite(st.host.o.ttlMs)) return;
  const node = ctx.node;
  const self = ctx.self;
  const ttl = st.host.o.ttlMs;
  st.ttlTimer = ctx.clock.setTimeout(() => {
    st.ttlTimer = undefined;
    node.send(self, {
      type: '$recycle',
      reason: 'ttl',
      detail: `older than ttlMs (${ttl} ms)`,
    } satisfies Info);
  }, ms);
}

/**
 * Starts a recycle: a fresh process is launched while the current one keeps serving, so the pool
 * never runs short; the swap happens when the fresh one is ready ($fresh).
 */
function requestRecycle(st: WorkerState, ctx: ServerContext, reason: string, detail: string): void {
  if (st.recycling) return;
  st.recycling = true;
  const node = ctx.node;
  const self = ctx.self;
  const launch = st.host.launchProcess(st.slot);
  st.launching = launch;
  launch.then(
    (wp) => node.send(self, { type: '$fresh', wp, reason, detail } satisfies Info),
    (error) => node.send(self, { type: '$fresh_failed', error } satisfies Info),
  );
}

/**
 * The fresh process takes calls from now on; the old one takes none, finishes the calls it has,
 * then is stopped (SIGTERM, SIGKILL after the margin). No call fails: calls in flight run to their
 * end on the old process, new ones go to the fresh one (or any other worker).
 */
function swap(st: WorkerState, ctx: ServerContext, wp: WorkerHandle, reason: string, detail: string): void {
  const host = st.host;
  st.launching = undefined;
  st.recycling = false;
  st.recycleFailures = 0;
  const old = { wp: st.wp, poolWorker: st.poolWorker };
  const poolWorker = new PoolWorker(host.nextWorkerId(), st.slot, host.o.maxConcurrentPerWorker, wp);
  st.wp = wp;
  st.poolWorker = poolWorker;
  st.misses = 0;
  st.wedgedBeats = 0;
  st.hbSuspectMark = 0;
  attach(st, ctx, wp, poolWorker);
  host.dispatcher.drain(old.poolWorker);
  // The state of the old process's sessions goes with it (strict affinity says so; hint rebinds).
  host.recycled(old.poolWorker.id, detail);
  host.events.worker.ready(st.slot, poolWorker, wp, false);
  host.events.worker.recycled(st.slot, old.poolWorker, poolWorker, reason, detail);
  const retire = (async () => {
    if (old.wp.exit === undefined) await Promise.race([old.poolWorker.whenIdle(), old.wp.exited]);
    await old.wp.stop(BRIDGE_DEFAULTS.cancelGraceMs + BRIDGE_DEFAULTS.killMarginMs);
    old.wp.close();
    st.retiring.delete(old.wp);
    host.events.worker.exited(st.slot, old.poolWorker, old.wp.exit, {
      type: 'recycled',
      code: undefined,
      message: `recycled: ${detail}`,
    });
  })();
  st.retiring.set(old.wp, retire);
}

/** A graceful recycle once RSS is above softRssRatio of maxRssMb (the hard limit is pollRss's). */
function checkSoftRss(st: WorkerState, ctx: ServerContext, rss: number): void {
  const max = st.host.o.maxRssMb;
  if (!Number.isFinite(max) || rss <= max * MIB * BRIDGE_DEFAULTS.softRssRatio) return;
  requestRecycle(
    st,
    ctx,
    'max_rss',
    `RSS ${(rss / MIB).toFixed(1)} MiB > ${BRIDGE_DEFAULTS.softRssRatio * 100}% of maxRssMb ${max}`,
  );
}

function scheduleRssPoll(st: WorkerState, ctx: ServerContext): void {
  if (!Number.isFinite(st.host.o.maxRssMb)) return;
  const node = ctx.node;
  const self = ctx.self;
  st.rssTimer = ctx.clock.setTimeout(
    () => node.send(self, { type: '$rss_tick' } satisfies Info),
    BRIDGE_DEFAULTS.rssPollMs,
  );
}

/**
 * Every rssPollMs: a process (current or retiring) above maxRssMb is killed, and the calls running
 * on it fail with ERR_WORKER_MEMORY_LIMIT; the current one above the soft share is recycled.
 */
function pollRss(st: WorkerState, ctx: ServerContext): void {
  const max = st.host.o.maxRssMb;
  for (const p of [st.wp, ...st.retiring.keys()]) {
    if (p.exit !== undefined) continue;
    const rss = p.sampleRss();
    if (rss === undefined) continue;
    st.host.notePeakRss(rss);
    if (p === st.wp) st.poolWorker.rssBytes = rss;
    if (rss > max * MIB) {
      p.killFor(
        new WorkerMemoryLimitError(
          p.pid,
          max,
          rss,
          `the host read its RSS above the limit (it reads it every ${BRIDGE_DEFAULTS.rssPollMs} ms)`,
        ),
      );
    } else if (p === st.wp) checkSoftRss(st, ctx, rss);
  }
}

function scheduleHeartbeat(st: WorkerState, ctx: ServerContext, ms = st.host.o.heartbeatIntervalMs): void {
  const node = ctx.node;
  const self = ctx.self;
  st.hbTimer = ctx.clock.setTimeout(() => node.send(self, { type: '$hb_tick' } satisfies Info), ms);
}

/** One probe at a time: the next is scheduled when this one is answered or times out. */
function sendHeartbeat(st: WorkerState, ctx: ServerContext): void {
  const node = ctx.node;
  const self = ctx.self;
  const seq = ++st.hbSeq;
  st.hbSentAt = ctx.clock.now();
  const workerId = st.poolWorker.id;
  st.hbSuspectMark = st.poolWorker.suspectRaised;
  const deadline = new Date(Date.now() + st.host.o.heartbeatIntervalMs);
  const answered = (err: ServiceError | null, res?: HeartbeatResponse__Output): void => {
    node.send(self, {
      type: '$hb_result',
      seq,
      workerId,
      error: err ? `${statusName(err.code)} ${err.details}` : undefined,
      rss: res?.stats?.rssBytes,
      abandoned: res?.stats?.abandoned,
    } satisfies Info);
  };
  try {
    // Over the call lane while it is up (the same answer, from the same event loop), else the RPC.
    const lane = st.poolWorker.process.lane;
    if (lane?.heartbeats && lane.usable) lane.Heartbeat({ seq }, { deadline }, answered);
    else st.poolWorker.client.Heartbeat({ seq }, { deadline }, answered);
  } catch (e) {
    node.send(self, {
      type: '$hb_result',
      seq,
      workerId,
      error: (e as Error).message,
      rss: undefined,
    } satisfies Info);
  }
}
