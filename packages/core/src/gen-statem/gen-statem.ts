/**
 * The gen_statem behaviour: a state machine process with OTP's callback modes (state functions or one
 * handleEvent), state enter calls, postponing, inserted events, and the three kinds of time-out
 * (event, state, generic). Calls and casts are gen_server's (`call`, `cast`, `sendRequest`), so a
 * client cannot tell the two behaviours apart; sys requests (getState, stopServer...) work too.
 *
 * Event order (OTP): events inserted by `nextEvent` first, then postponed events (retried after a
 * state change), then the mailbox. The queue below holds the first two.
 *
 * Time-outs are timers whose expiry is delivered to the mailbox as a `$sm_timeout` message carrying
 * the timer record: a timer cancelled or replaced after it fired is recognised as stale and dropped.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { FormatStatus } from '../crash-report.js';
import { TrellisError } from '../errors.js';
import { Exit, type ExitReason } from '../exit-reason.js';
import * as gen from '../gen.js';
import { type IgnoreResult, initEnd, type StopResult } from '../gen-server.js';
import { hibernateProc } from '../hibernate.js';
import { NO_MESSAGE } from '../mailbox.js';
import { currentNode, type Node } from '../node.js';
import type { Pid } from '../pid.js';
import type { CallMessage, CastMessage, ExitMessage, SystemCallMessage } from '../process.js';
import type { StartFn } from '../supervisor/child-spec.js';
import { type SysRequest, SysState } from '../sys.js';
import {
  type EnterEvent,
  STATEM,
  type StatemAction,
  type StatemEvent,
  type StatemResult,
} from './results.js';

type Awaitable<T> = T | Promise<T>;

export type StatemInitResult<St, D> = StatemResult<St, D> | IgnoreResult | StopResult<unknown>;

interface StatemCommon<St, D, Args extends unknown[]> {
  init(ctx: gen.ServerContext, ...args: Args): Awaitable<StatemInitResult<St, D>>;
  /** OTP's state_enter callback mode option: call the handler with an `enter` event on each state change. */
  readonly stateEnter?: boolean;
  terminate?(reason: ExitReason, state: St, data: D, ctx: gen.ServerContext): Awaitable<void>;
  /** What getStatus and crash reports show of `{ state, data }` (hide secrets here). */
  formatStatus?: FormatStatus<{ state: St; data: D }>;
}

/** callback_mode() -> handle_event_function: one handler for every state. */
export interface HandleEventStatem<St, D, Args extends unknown[], E extends StatemEvent = StatemEvent>
  extends StatemCommon<St, D, Args> {
  readonly callbackMode: 'handle_event_function';
  handleEvent(
    event: E | EnterEvent<St>,
    state: St,
    data: D,
    ctx: gen.ServerContext,
  ): Awaitable<StatemResult<St, D>>;
}

/** callback_mode() -> state_functions: one handler per state; the state is a string. */
export interface StateFunctionsStatem<
  St extends string,
  D,
  Args extends unknown[],
  E extends StatemEvent = StatemEvent,
> extends StatemCommon<St, D, Args> {
  readonly callbackMode: 'state_functions';
  readonly states: {
    readonly [K in St]: (
      event: E | EnterEvent<St>,
      data: D,
      ctx: gen.ServerContext,
    ) => Awaitable<StatemResult<St, D>>;
  };
}

export type GenStatem<St = any, D = any, Args extends unknown[] = any[], E extends StatemEvent = any> =
  | HandleEventStatem<St, D, Args, E>
  | ([St] extends [string] ? StateFunctionsStatem<St & string, D, Args, E> : never);

/** Identity function that lets TypeScript infer a state machine's types in one place. */
export function defineStatem<St, D, Args extends unknown[], E extends StatemEvent = StatemEvent>(
  b: HandleEventStatem<St, D, Args, E>,
): HandleEventStatem<St, D, Args, E>;
export function defineStatem<
  St extends string,
  D,
  Args extends unknown[],
  E extends StatemEvent = StatemEvent,
>(b: StateFunctionsStatem<St, D, Args, E>): StateFunctionsStatem<St, D, Args, E>;
export function defineStatem(b: unknown): unknown {
  return b;
}

export class BadStatemResultError extends TrellisError {
  constructor(problem: string, fix: string) {
    super('ERR_BAD_STATEM_RESULT', `gen_statem: ${problem}; ${fix}`, { details: { problem } });
  }
}

/** Starts a gen_statem in this thread; resolves after init with its pid (or IGNORE). */
export function startStatem<St, D, Args extends unknown[]>(
  behaviour: GenStatem<St, D, Args>,
  args: Args,
  opts: gen.StartServerOptions = {},
  node: Node = currentNode(),
): Promise<Pid | gen.Ignore> {
  return gen.start(statemLoop<St, D, Args>, behaviour, args, opts, node);
}

/** A start function for a gen_statem in the supervisor's thread; `args` of the spec go to init. */
export function statemChild<St, D, Args extends unknown[]>(
  behaviour: GenStatem<St, D, Args>,
  opts: Pick<gen.StartServerOptions, 'name' | 'trapExit' | 'startTimeoutMs'> = {},
): StartFn {
  return (ctx, ...args) =>
    startStatem(behaviour, args as Args, { ...opts, link: ctx.parent, clock: ctx.clock }, ctx.node);
}

/** Whether a module's default export is a gen_statem (thread actors). */
export function isStatem(def: unknown): def is GenStatem {
  const mode = (def as { callbackMode?: unknown } | null)?.callbackMode;
  return mode === 'handle_event_function' || mode === 'state_functions';
}

interface TimerRec {
  readonly kind: 'timeout' | 'state_timeout' | 'generic_timeout';
  readonly name: string | undefined;
  readonly content: unknown;
  handle: TimerHandle | undefined;
}

interface TimeoutMsg {
  readonly type: '$sm_timeout';
  readonly rec: TimerRec;
}

type AnyResult<St, D> = StatemResult<St, D>;

async function statemLoop<St, D, Args extends unknown[]>(
  start: gen.LoopStart,
  b: GenStatem<St, D, Args>,
  args: Args,
): Promise<void> {
  // Both callback modes share these callbacks (the union type would make St & string of them).
  const common = b as unknown as StatemCommon<St, D, Args>;
  const served = await gen.initServer(
    start,
    'gen_statem',
    (ctx) => common.init(ctx, ...args),
    (r): gen.InitAnswer<AnyResult<St, D>> => {
      const end = initEnd(r);
      if (end !== undefined) return end;
      if ((r as AnyResult<St, D>)[STATEM] !== 'next') {
        throw new BadStatemResultError(
          'init returned something other than nextState(state, data, actions?), ignore() or stop(reason)',
          'return nextState(initialState, initialData) from init',
        );
      }
      return { run: r as AnyResult<St, D> };
    },
  );
  if (served === undefined) return;
  const { node, proc } = start;
  const { ctx, nameOf, initial } = served;
  const clock: Clock = proc.clock;
  let state: St = (initial as { state: St }).state;
  let data: D = (initial as { data: D }).data;

  const sys = new SysState<{ state: St; data: D }>('gen_statem', proc, ctx.parent, common.formatStatus);
  type StateFn = (
    event: StatemEvent | EnterEvent<St>,
    d: D,
    c: gen.ServerContext,
  ) => Awaitable<AnyResult<St, D>>;
  const handler: (event: StatemEvent | EnterEvent<St>, st: St, d: D) => Awaitable<AnyResult<St, D>> =
    b.callbackMode === 'state_functions'
      ? (event, st, d) => {
          const fn = (b.states as Record<string, StateFn>)[st as unknown as string];
          if (fn === undefined)
            throw new BadStatemResultError(
              `no state function for state "${String(st)}"`,
              'add it to `states`, or check the state names returned by nextState',
            );
          return fn(event, d, ctx);
        }
      : (event, st, d) => (b as HandleEventStatem<St, D, Args>).handleEvent(event as never, st, d, ctx);

  /** Inserted and retried events, handled before the mailbox. */
  let queue: StatemEvent[] = [];
  let postponed: StatemEvent[] = [];
  let eventTimer: TimerRec | undefined;
  let stateTimer: TimerRec | undefined;
  const generic = new Map<string, TimerRec>();
  let lastEvent: unknown;

  const clear = (rec: TimerRec | undefined): void => {
    if (rec?.handle !== undefined) clock.clearTimeout(rec.handle);
    if (rec !== undefined) rec.handle = undefined;
  };
  const arm = (rec: TimerRec, ms: number): TimerRec => {
    rec.handle = clock.setTimeout(() => {
      rec.handle = undefined;
      proc.deliver({ type: '$sm_timeout', rec } satisfies TimeoutMsg);
    }, ms);
    return rec;
  };
  const timeoutEvent = (rec: TimerRec): StatemEvent =>
    rec.kind === 'generic_timeout'
      ? { type: 'generic_timeout', name: rec.name!, content: rec.content }
      : { type: rec.kind, content: rec.content };

  const finish = async (reason: ExitReason): Promise<never> => {
    clear(eventTimer);
    clear(stateTimer);
    for (const g of generic.values()) clear(g);
    const terminate = common.terminate;
    return gen.endServer(
      ctx,
      proc,
      reason,
      terminate && ((r) => terminate(r, state, data, ctx)),
      {
        behaviour: 'gen_statem',
        lastMessage: lastEvent,
        state: { state, data },
        formatStatus: common.formatStatus,
        stateName: state,
      },
      nameOf,
    );
  };

  /**
   * Carries out one callback result: new state and data, actions in order, postponing, and the
   * state enter call when the state changed. `event` is undefined for enter calls and init.
   */
  // Not an async function: on the hot path (an event kept in its state) it finishes synchronously,
  // without the promise hops an await would add to every event.
  const transition = (
    result: AnyResult<St, D>,
    event: StatemEvent | undefined,
    enter: boolean,
  ): Promise<void> | undefined => {
    if (typeof result !== 'object' || result === null || !(STATEM in result))
      throw new BadStatemResultError(
        `a handler returned ${String(result)}`,
        'return nextState, keepState, keepStateAndData, repeatState or stopStatem',
      );
    const tag = result[STATEM];
    if (tag === 'stop') {
      for (const a of result.replies) if (a.a === 'reply') ctx.reply(a.from, a.value);
      if (!result.keepData) data = result.data as D;
      return finish(result.reason);
    }
    const old = state;
    let next = state;
    if (tag === 'next') {
      next = (result as { state: St }).state;
      data = (result as { data: D }).data;
    } else if (!(result as { keepData: boolean }).keepData) data = (result as { data: D }).data;
    if (enter && tag === 'next' && !sameState(next, old))
      throw new BadStatemResultError(
        'a state enter call changed the state',
        'return keepState or repeatState from enter calls (OTP forbids changing state there)',
      );
    let inserted: StatemEvent[] | undefined;
    const insert = (e: StatemEvent): void => {
      if (inserted === undefined) inserted = [e];
      else inserted.push(e);
    };
    let doPostpone = false;
    let eventTimeoutAction: { ms: number; content: unknown } | undefined;
    let hibernate = false;
    const changed = tag !== 'repeat' && !sameState(next, old);
    // A state change cancels the state time-out; one set by this very transition is for the new state.
    if (changed) {
      clear(stateTimer);
      stateTimer = undefined;
    }
    for (const a of (result as { actions: readonly StatemAction[] }).actions) {
      switch (a.a) {
        case 'reply':
          ctx.reply(a.from, a.value);
          if (sys.trace) sys.log('out', { to: a.from.pid, reply: a.value });
          break;
        case 'postpone':
          if (enter || event === undefined)
            throw new BadStatemResultError('postpone in a state enter call', 'postpone only real events');
          doPostpone = true;
          break;
        case 'next_event':
          if (enter)
            throw new BadStatemResultError(
              'nextEvent in a state enter call',
              'insert events from event handlers',
            );
          insert(a.event as StatemEvent);
          break;
        case 'timeout':
          if (a.kind === 'timeout') eventTimeoutAction = { ms: a.ms, content: a.content };
          else {
            clear(stateTimer);
            stateTimer = { kind: 'state_timeout', name: undefined, content: a.content, handle: undefined };
            if (a.ms <= 0) {
              insert(timeoutEvent(stateTimer));
              stateTimer = undefined;
            } else if (Number.isFinite(a.ms)) arm(stateTimer, a.ms);
            else stateTimer = undefined;
          }
          break;
        case 'generic_timeout': {
          clear(generic.get(a.name));
          const rec: TimerRec = {
            kind: 'generic_timeout',
            name: a.name,
            content: a.content,
            handle: undefined,
          };
          if (a.ms <= 0) {
            generic.delete(a.name);
            insert(timeoutEvent(rec));
          } else if (Number.isFinite(a.ms)) generic.set(a.name, arm(rec, a.ms));
          else generic.delete(a.name);
          break;
        }
        case 'cancel':
          if (a.kind === 'timeout') {
            clear(eventTimer);
            eventTimer = undefined;
            eventTimeoutAction = undefined;
          } else if (a.kind === 'state_timeout') {
            clear(stateTimer);
            stateTimer = undefined;
          } else if (a.name !== undefined) {
            clear(generic.get(a.name));
            generic.delete(a.name);
          }
          break;
        case 'hibernate':
          hibernate = true;
          break;
        default: {
          const never: never = a;
          throw new BadStatemResultError(
            `unknown action ${String((never as { a?: unknown }).a)}`,
            'use the action builders',
          );
        }
      }
    }
    if (doPostpone && event !== undefined) postponed.push(event);
    state = next;
    if (changed || tag === 'repeat') {
      // Postponed events are retried after a state change (and a repeat), behind inserted ones.
      if (inserted !== undefined || postponed.length > 0)
        queue = [...(inserted ?? []), ...postponed, ...queue];
      postponed = [];
    } else if (inserted !== undefined) queue = [...inserted, ...queue];
    // With a formatStatus, as getStatus shows it: a trace goes to the log the reports keep secrets out of.
    if (sys.trace && !enter)
      sys.log(
        'state',
        sys.formatStatus === undefined
          ? { state, data }
          : { stateName: state, state: sys.shown({ state, data }) },
      );
    if ((changed || tag === 'repeat') && common.stateEnter === true && !enter)
      return enterState(old).then(() => after(eventTimeoutAction, hibernate));
    after(eventTimeoutAction, hibernate);
    return undefined;
  };

  /** The end of a transition, after its state enter call: the event time-out and hibernation. */
  const after = (
    eventTimeoutAction: { ms: number; content: unknown } | undefined,
    hibernate: boolean,
  ): void => {
    if (eventTimeoutAction !== undefined) {
      // The event time-out starts only when no event is waiting; a 0 time-out fires at once then.
      const waiting = queue.length > 0 || proc.mailbox.size > 0;
      if (!waiting) {
        const rec: TimerRec = {
          kind: 'timeout',
          name: undefined,
          content: eventTimeoutAction.content,
          handle: undefined,
        };
        if (eventTimeoutAction.ms <= 0) queue.push(timeoutEvent(rec));
        else if (Number.isFinite(eventTimeoutAction.ms)) eventTimer = arm(rec, eventTimeoutAction.ms);
      }
    }
    if (hibernate) {
      hibernateProc(proc);
      sys.hibernated = true;
    }
  };

  const enterState = async (old: St): Promise<void> => {
    let r = handler({ type: 'enter', oldState: old }, state, data);
    if (r instanceof Promise) r = await r;
    lastEvent = { type: 'enter', oldState: old };
    await transition(r, undefined, true);
    if (r[STATEM] === 'repeat') await enterState(old);
  };

  try {
    await transition(
      {
        [STATEM]: 'keep',
        keepData: true,
        actions: (initial as { actions: readonly StatemAction[] }).actions,
      },
      undefined,
      false,
    );
    if (common.stateEnter === true) await enterState(state);
    for (;;) {
      let event: StatemEvent | undefined = queue.shift();
      if (event === undefined) {
        let msg = proc.tryReceive();
        if (msg === NO_MESSAGE) msg = await proc.receive(undefined, undefined);
        if (sys.trace) sys.log('in', { msg });
        const type = (msg as { type?: unknown } | null)?.type;
        if (type === '$system') {
          await system(msg as SystemCallMessage<SysRequest>);
          continue;
        }
        sys.hibernated = false;
        if (type === '$sm_timeout') {
          const rec = (msg as TimeoutMsg).rec;
          // Stale: cancelled or replaced after its timer fired.
          const current =
            rec.kind === 'timeout'
              ? eventTimer
              : rec.kind === 'state_timeout'
                ? stateTimer
                : generic.get(rec.name!);
          if (current !== rec) continue;
          if (rec.kind === 'timeout') eventTimer = undefined;
          else if (rec.kind === 'state_timeout') stateTimer = undefined;
          else generic.delete(rec.name!);
          event = timeoutEvent(rec);
        } else if (type === '$call') {
          const m = msg as CallMessage;
          event = { type: 'call', from: m.from, content: m.request };
        } else if (type === '$cast') event = { type: 'cast', content: (msg as CastMessage).msg };
        else if (type === 'EXIT' && (msg as ExitMessage).from === ctx.parent && proc.trapExit) {
          await finish((msg as ExitMessage).reason);
          return;
        } else event = { type: 'info', content: msg };
      }
      // Any event cancels the event time-out (OTP).
      if (eventTimer !== undefined && event.type !== 'timeout') {
        clear(eventTimer);
        eventTimer = undefined;
      }
      lastEvent = event;
      let r = handler(event, state, data);
      if (r instanceof Promise) r = await r;
      const t = transition(r, event, false);
      if (t !== undefined) await t;
    }
  } catch (e) {
    if (!proc.alive) throw e;
    await finish(Exit.error(e));
  }

  async function system(m: SystemCallMessage<SysRequest>): Promise<void> {
    const req = m.request;
    switch (req.t) {
      case 'get_state':
        ctx.reply(m.from, { state, data });
        return;
      case 'replace_state': {
        let next: { state: St; data: D };
        try {
          next = req.fn({ state, data }) as { state: St; data: D };
        } catch (e) {
          node.failCall(m.from, Exit.error(e), proc);
          return;
        }
        state = next.state;
        data = next.data;
        ctx.reply(m.from, next);
        return;
      }
      case 'get_status':
        ctx.reply(m.from, sys.status({ state, data }, state));
        return;
      case 'trace':
        sys.trace = req.on;
        ctx.reply(m.from, undefined);
        return;
      case 'terminate':
        await finish(req.reason);
        return;
      default: {
        const t = (req as { t?: unknown }).t;
        node.failCall(m.from, Exit.error(new TypeError(`unknown sys request ${String(t)}`)), proc);
      }
    }
  }
}

/**
 * OTP compares states with =:= (structurally). States are mostly strings; for objects a structural
 * comparison of plain data is enough (states are data). Hand-written rather than node:util's
 * isDeepStrictEqual: this module is in every thread's boot path, which loads no extra builtins.
 */
function sameState(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!sameState((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
