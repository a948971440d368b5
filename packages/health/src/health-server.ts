/**
 * The health monitor as a gen_server: a child spec (`healthMonitorChild`), its messages and calls
 * (the client side is health-client.ts).
 *
 * Put it EARLY among the children of a supervisor, before the children it monitors: they register
 * with it when they start (monitoredChild), and since supervisors stop children in reverse order it
 * stops after them, so their clean exits are recorded as `stopped`. Put it ABOVE (outside) any
 * subtree it may escalate: escalating kills that subtree's supervisor.
 */
import {
  type ActorContext,
  type ChildSpec,
  type Clock,
  currentNode,
  type DownMessage,
  defineServer,
  eventBus,
  type Node,
  noreply,
  type Pid,
  reply,
  type SerializedError,
  type SupervisorEventMessage,
  serializeError,
  startServer,
  type TimerHandle,
} from '@trellis/core';
import { resolveHomeDir } from '@trellis/home';
import { HEALTH_DEFAULTS } from './defaults.js';
import { InvalidHealthOptionsError } from './errors.js';
import { HealthMonitor } from './health-monitor.js';
import type { HealthRecord, HealthRunRecord } from './health-records.js';
import { type ActorHealthOptions, normalizePolicy, normalizeTimings } from './health-state.js';
import { HealthStore } from './health-store.js';
import { hostInfo } from './host.js';
import { hereIdentity, judgeHealthRun, processRunId } from './run-identity.js';

export interface HealthMonitorOptions {
  /** Registered name in its thread (default `trellis-health`). */
  readonly name?: string;
  /** Directory of the LMDB files. Precedence: this > TRELLIS_HOME > `<cwd>/.trellis` (the registry's). */
  readonly dir?: string;
  /** Write records to LMDB (default true). */
  readonly persist?: boolean;
  /** Run id of the records (default: one per process, dir and monitor name; see run-identity.ts). */
  readonly runId?: string;
  /** Time between two flushes to LMDB (default 500 ms). */
  readonly flushIntervalMs?: number;
  /** Time between two deadline scans (default 100 ms): how late, at most, a transition is noticed. */
  readonly scanIntervalMs?: number;
  /** Escalation target of every actor with policy `escalate` (default: the actor's supervisor). */
  readonly escalateTo?: Pid | string;
  /** Defaults for the actors registered with this monitor. */
  readonly defaults?: Omit<ActorHealthOptions, 'key' | 'id' | 'supervisor' | 'escalateTo'>;
  /** Clock for deadlines and timers (default: the supervisor's clock). */
  readonly clock?: Clock;
  /** Records of this many dead runs are kept (default 5); older ones are deleted at boot. */
  readonly retainDeadRuns?: number;
}

export interface HealthMonitorChildOptions extends HealthMonitorOptions {
  /** Child id (default `trellis-health`). */
  readonly id?: string;
}

/** The message a beat from another thread is (what `heartbeat(ctx, monitorPid)` sends). */
export interface BeatMessage {
  readonly type: '$health_beat';
  readonly pid: Pid;
}

interface TickMessage {
  readonly type: '$health_tick';
  readonly what: 'scan' | 'flush';
}

/** What the monitor answers to `call` (from any thread). */
export type HealthRequest =
  | { readonly op: 'register'; readonly pid: Pid; readonly options?: ActorHealthOptions }
  | { readonly op: 'unregister'; readonly target: string }
  | { readonly op: 'beat'; readonly pid: Pid }
  | { readonly op: 'get'; readonly target: string }
  | { readonly op: 'list' }
  | { readonly op: 'children' }
  | { readonly op: 'subscribe'; readonly pid: Pid }
  | { readonly op: 'unsubscribe'; readonly pid: Pid }
  | { readonly op: 'flush' };

/** How the monitor answers a call: failures travel as data (they must cross threads). */
export type HealthReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError };

interface State {
  readonly monitor: HealthMonitor;
  readonly clock: Clock;
  readonly scanMs: number;
  readonly flushMs: number;
  timers: Map<'scan' | 'flush', TimerHandle>;
}

function positive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidHealthOptionsError(
      `${name} is ${JSON.stringify(v)}; it must be a finite number of milliseconds > 0`,
      {
        field: name,
      },
    );
  }
  return v;
}

/** Checks monitor options (and the per-actor defaults) before anything starts. */
export function checkMonitorOptions(o: HealthMonitorOptions): void {
  if (typeof o !== 'object' || o === null)
    throw new InvalidHealthOptionsError('health monitor options must be an object');
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0 || o.name.startsWith('<'))) {
    throw new InvalidHealthOptionsError(
      `name is ${JSON.stringify(o.name)}; use a non-empty string that does not start with "<"`,
    );
  }
  positive('flushIntervalMs', o.flushIntervalMs ?? HEALTH_DEFAULTS.flushIntervalMs);
  positive('scanIntervalMs', o.scanIntervalMs ?? HEALTH_DEFAULTS.scanIntervalMs);
  const retain = o.retainDeadRuns ?? HEALTH_DEFAULTS.retainDeadRuns;
  if (!Number.isInteger(retain) || retain < 0) {
    throw new InvalidHealthOptionsError(
      `retainDeadRuns is ${JSON.stringify(retain)}; use a whole number >= 0`,
    );
  }
  normalizeTimings(o.defaults ?? {});
  normalizePolicy(o.defaults?.policy);
  if (o.escalateTo !== undefined && (typeof o.escalateTo !== 'string' || o.escalateTo.length === 0)) {
    throw new InvalidHealthOptionsError('escalateTo must be a pid or a registered name');
  }
}

const healthServer = defineServer<State, [HealthMonitorOptions]>({
  init(ctx, options) {
    const clock = options.clock ?? ctx.clock;
    const name = options.name ?? HEALTH_DEFAULTS.name;
    const persist = options.persist !== false;
    const dir = persist ? resolveHomeDir({ dir: options.dir }) : undefined;
    const runId = options.runId ?? (dir !== undefined ? processRunId(dir, name) : `memory-${ctx.self}`);
    const flushMs = options.flushIntervalMs ?? HEALTH_DEFAULTS.flushIntervalMs;
    let store: HealthStore | undefined;
    let run: HealthRunRecord | undefined;
    let previous: HealthRecord[] = [];
    if (dir !== undefined) {
      store = HealthStore.open(dir);
      try {
        const here = hereIdentity(dir);
        // The next boot marks what a killed run left "active" as dead (readers also judge it live).
        store.markDead(
          (r) => {
            if (r.runId === runId) return false;
            const verdict = judgeHealthRun(r, here);
            return verdict === 'dead' || verdict === 'rebooted';
          },
          Date.now(),
          options.retainDeadRuns ?? HEALTH_DEFAULTS.retainDeadRuns,
        );
        if (store.getRun(runId) !== undefined) previous = store.listRecords(runId);
        const h = hostInfo();
        run = {
          runId,
          hostPid: h.pid,
          hostStartTime: h.startTime,
          bootId: h.bootId,
          hostname: h.hostname,
          pidNamespace: h.pidNamespace,
          startedAt: new Date().toISOString(),
          cwd: process.cwd(),
          name,
          monitorPid: ctx.self,
          state: 'running',
          flushIntervalMs: flushMs,
          lastFlushAt: Date.now(),
        };
        store.write(run, []);
      } catch (e) {
        void store.close();
        throw e;
      }
    }
    const monitor = new HealthMonitor(
      { ctx, clock },
      {
        name,
        runId,
        dir,
        store,
        run,
        defaults: options.defaults ?? {},
        escalateTo: options.escalateTo,
        ownRun: options.runId === undefined,
      },
    );
    if (previous.length > 0) monitor.adopt(previous);
    // Whatever ends this process (a kill included, which skips terminate) releases the timers and file.
    const state: State = {
      monitor,
      clock,
      scanMs: options.scanIntervalMs ?? HEALTH_DEFAULTS.scanIntervalMs,
      flushMs,
      timers: new Map(),
    };
    ctx.node.monitor(() => {
      for (const t of state.timers.values()) clock.clearTimeout(t);
      monitor.abandon();
    }, ctx.self);
    eventBus(ctx.node).subscribe(ctx.self);
    schedule(ctx, state, 'scan');
    schedule(ctx, state, 'flush');
    return state;
  },

  handleCall(request: HealthRequest, _from, state) {
    return reply(answer(state.monitor, request), state);
  },

  handleCast(msg: HealthRequest, state) {
    if (msg?.op === 'beat') state.monitor.beat(msg.pid);
    return noreply(state);
  },

  handleInfo(msg: BeatMessage | TickMessage | DownMessage | SupervisorEventMessage, state, ctx) {
    switch (msg?.type) {
      case '$health_beat':
        state.monitor.beat(msg.pid);
        break;
      case '$health_tick':
        if (msg.what === 'scan') state.monitor.scan();
        else state.monitor.flush();
        schedule(ctx, state, msg.what);
        break;
      case 'DOWN':
        state.monitor.handleDown(msg.pid, msg.reason);
        break;
      case '$sup_event':
        state.monitor.handleSupervisorEvent(msg.event);
        break;
      default:
        break;
    }
    return noreply(state);
  },

  async terminate(reason, state) {
    for (const t of state.timers.values()) state.clock.clearTimeout(t);
    await state.monitor.close(reason);
  },
});

function schedule(ctx: ActorContext, state: State, what: 'scan' | 'flush'): void {
  const ms = what === 'scan' ? state.scanMs : state.flushMs;
  state.timers.set(
    what,
    state.clock.setTimeout(() => {
      if (ctx.alive) ctx.send(ctx.self, { type: '$health_tick', what } satisfies TickMessage);
    }, ms),
  );
}

/** Runs one request; failures travel back as data (a bad request must not crash the monitor). */
function answer(m: HealthMonitor, req: HealthRequest): HealthReply {
  try {
    return { ok: true, value: dispatch(m, req) };
  } catch (e) {
    return { ok: false, error: serializeError(e) };
  }
}

function dispatch(m: HealthMonitor, req: HealthRequest): unknown {
  switch (req?.op) {
    case 'register':
      return m.register(req.pid, req.options);
    case 'unregister':
      return m.unregister(req.target);
    case 'beat':
      return m.beat(req.pid);
    case 'get':
      return m.get(req.target) ?? null;
    case 'list':
      return m.list();
    case 'children':
      return m.children();
    case 'subscribe':
      m.subscribe(req.pid);
      return true;
    case 'unsubscribe':
      m.unsubscribe(req.pid);
      return true;
    case 'flush':
      return m.flush();
    default:
      throw new InvalidHealthOptionsError(
        `unknown health monitor request ${JSON.stringify(req)}; use { op: 'register' | 'unregister' | 'beat' | 'get' | 'list' | 'children' | 'subscribe' | 'unsubscribe' | 'flush' }`,
      );
  }
}

export interface StartHealthMonitorOptions {
  /** Link to this pid (a supervisor passes itself). */
  readonly link?: Pid;
  /** Whose EXIT stops the monitor in order (defaults to `link`). */
  readonly parent?: Pid;
}

/** Starts a health monitor outside a supervision tree (tests, scripts); resolves with its pid. */
export async function startHealthMonitor(
  options: HealthMonitorOptions = {},
  start: StartHealthMonitorOptions = {},
  node: Node = currentNode(),
): Promise<Pid> {
  checkMonitorOptions(options);
  const pid = await startServer(
    healthServer,
    [options],
    {
      link: start.link,
      parent: start.parent ?? start.link,
      name: options.name ?? HEALTH_DEFAULTS.name,
      trapExit: true,
      clock: options.clock,
    },
    node,
  );
  return pid as Pid;
}

/** A child spec for the health monitor (see the module comment for where to put it). */
export function healthMonitorChild(options: HealthMonitorChildOptions = {}): ChildSpec {
  const { id, ...monitorOptions } = options;
  checkMonitorOptions(monitorOptions);
  return {
    id: id ?? HEALTH_DEFAULTS.childId,
    start: (ctx) =>
      startServer(
        healthServer,
        [{ ...monitorOptions, clock: monitorOptions.clock ?? ctx.clock }],
        {
          link: ctx.parent,
          parent: ctx.parent,
          name: monitorOptions.name ?? HEALTH_DEFAULTS.name,
          trapExit: true,
          clock: monitorOptions.clock ?? ctx.clock,
        },
        ctx.node,
      ),
    restart: 'permanent',
    shutdown: 5000,
    type: 'worker',
  };
}
