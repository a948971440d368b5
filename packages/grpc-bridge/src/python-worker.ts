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
  noreply,
  type ServerContext,
  stop,
  type TimerHandle,
} from '@trellis/core';
import { statusName } from './call-errors.js';
import { BRIDGE_DEFAULTS } from './defaults.js';
import { WorkerEntry } from './dispatcher.js';
import { HeartbeatMissedError, type WorkerExit, WorkerExitedError } from './errors.js';
import type { HeartbeatResponse__Output } from './generated/trellis/bridge/v1/HeartbeatResponse.js';
import type { PoolRuntime } from './pool-runtime.js';
import type { WorkerProcess } from './worker-process.js';

interface WorkerState {
  readonly rt: PoolRuntime;
  readonly slot: number;
  readonly wp: WorkerProcess;
  readonly entry: WorkerEntry;
  hbTimer: TimerHandle | undefined;
  hbSeq: number;
  misses: number;
  lastHbError: string | undefined;
}

type Info =
  | { readonly type: '$py_exit'; readonly exit: WorkerExit }
  | { readonly type: '$hb_tick' }
  | {
      readonly type: '$hb_result';
      readonly seq: number;
      readonly error: string | undefined;
      readonly rss: number | undefined;
    };

export const PythonWorker = defineServer<WorkerState, [PoolRuntime, number], never, never, never, Info>({
  async init(ctx: ServerContext, rt: PoolRuntime, slot: number) {
    const restart = rt.slotsStarted.has(slot);
    let wp: WorkerProcess;
    try {
      wp = await rt.launcher!.acquire(slot);
    } catch (e) {
      rt.lastStartError = e;
      if (rt.events.active) {
        rt.events.emit({
          type: 'worker_start_failed',
          slot,
          code: (e as { code?: string }).code ?? 'ERR_UNKNOWN',
          message: (e as Error).message,
        });
      }
      throw e;
    }
    if (!ctx.alive) {
      // Killed while the process was starting: nobody else will ever stop it.
      wp.kill();
      void wp.exited.then(() => wp.close());
      return stop(Exit.killed, undefined as unknown as WorkerState);
    }
    rt.slotsStarted.add(slot);
    if (restart) rt.counters.restarts++;
    const entry = new WorkerEntry(rt.nextWorkerId(), slot, rt.o.maxConcurrentPerWorker, wp);
    const node = ctx.node;
    const self = ctx.self;
    node.monitor((reason: ExitReason) => {
      if (wp.exit === undefined) wp.kill();
      void wp.exited.then(() => wp.close());
      if (rt.events.active) {
        const cause = reason.type === 'error' ? (reason.cause as { code?: unknown } | undefined) : undefined;
        rt.events.emit({
          type: 'worker_exited',
          slot,
          workerId: entry.id,
          pid: wp.pid,
          exitCode: wp.exit?.exitCode ?? null,
          signal: wp.exit?.signal ?? null,
          reason: {
            type: reason.type,
            code: typeof cause?.code === 'string' ? cause.code : undefined,
            message: formatReason(reason),
          },
        });
      }
    }, self);
    // Synchronously from the exit event: in-flight calls fail now, not at their time-out.
    wp.onExit((exit) => {
      rt.dispatcher.gone(entry, exit);
      node.send(self, { type: '$py_exit', exit } satisfies Info);
    });
    rt.setTools(wp.tools);
    rt.dispatcher.add(entry);
    if (rt.events.active) {
      rt.events.emit({
        type: 'worker_ready',
        slot,
        workerId: entry.id,
        pid: wp.pid,
        address: wp.address,
        startMs: wp.startMs,
        restart,
      });
    }
    const st: WorkerState = {
      rt,
      slot,
      wp,
      entry,
      hbTimer: undefined,
      hbSeq: 0,
      misses: 0,
      lastHbError: undefined,
    };
    scheduleHeartbeat(st, ctx);
    return st;
  },

  handleInfo(msg: Info, st: WorkerState, ctx: ServerContext) {
    switch (msg.type) {
      case '$py_exit':
        return stop(Exit.error(new WorkerExitedError(msg.exit)), st);
      case '$hb_tick':
        st.hbTimer = undefined;
        sendHeartbeat(st, ctx);
        return noreply(st);
      case '$hb_result': {
        if (msg.seq !== st.hbSeq) return noreply(st);
        if (msg.error === undefined) {
          st.misses = 0;
          st.entry.rssBytes = msg.rss;
        } else {
          st.misses++;
          st.lastHbError = msg.error;
          if (st.misses >= st.rt.o.heartbeatMisses) {
            st.wp.kill();
            return stop(
              Exit.error(
                new HeartbeatMissedError(st.wp.pid, st.misses, st.rt.o.heartbeatIntervalMs, st.lastHbError),
              ),
              st,
            );
          }
        }
        scheduleHeartbeat(st, ctx);
        return noreply(st);
      }
    }
  },

  async terminate(_reason: ExitReason, st: WorkerState, ctx: ServerContext) {
    if (st === undefined) return;
    if (st.hbTimer !== undefined) ctx.clock.clearTimeout(st.hbTimer);
    st.hbTimer = undefined;
    st.rt.dispatcher.drain(st.entry);
    if (st.wp.exit === undefined && st.entry.inFlight > 0) {
      let timer: TimerHandle | undefined;
      await Promise.race([
        st.entry.whenIdle(),
        st.wp.exited,
        new Promise<void>((r) => {
          timer = ctx.clock.setTimeout(r, st.rt.o.graceMs);
        }),
      ]);
      if (timer !== undefined) ctx.clock.clearTimeout(timer);
    }
    // Stops the process when it is still there; otherwise only makes sure its group is gone.
    await st.wp.stop(BRIDGE_DEFAULTS.cancelGraceMs + BRIDGE_DEFAULTS.killMarginMs);
    st.wp.close();
  },
});

function scheduleHeartbeat(st: WorkerState, ctx: ServerContext): void {
  const node = ctx.node;
  const self = ctx.self;
  st.hbTimer = ctx.clock.setTimeout(
    () => node.send(self, { type: '$hb_tick' } satisfies Info),
    st.rt.o.heartbeatIntervalMs,
  );
}

/** One probe at a time: the next is scheduled when this one is answered or times out. */
function sendHeartbeat(st: WorkerState, ctx: ServerContext): void {
  const node = ctx.node;
  const self = ctx.self;
  const seq = ++st.hbSeq;
  const deadline = new Date(Date.now() + st.rt.o.heartbeatIntervalMs);
  try {
    st.entry.client.Heartbeat(
      { seq },
      { deadline },
      (err: ServiceError | null, res?: HeartbeatResponse__Output) => {
        node.send(self, {
          type: '$hb_result',
          seq,
          error: err ? `${statusName(err.code)} ${err.details}` : undefined,
          rss: res?.stats?.rssBytes,
        } satisfies Info);
      },
    );
  } catch (e) {
    node.send(self, { type: '$hb_result', seq, error: (e as Error).message, rss: undefined } satisfies Info);
  }
}
