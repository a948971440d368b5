/**
 * The gen_server behaviour: init, handleCall, handleCast, handleInfo, handleContinue, terminate,
 * formatStatus.
 *
 * Callbacks answer with tagged results built by `reply`, `noreply` and `stop`, so a state of any shape
 * can never be mistaken for a result. `init` returns the initial state, `ok(state, action)`,
 * `ignore()` or `stop(...)`. An action (OTP's last element of a result tuple) is one of
 * `{ continue: x }` (handleContinue runs before the next message), `{ timeout: ms }` (a TIMEOUT info
 * message when no message arrives in time) or `{ hibernate: true }`.
 *
 * Starting is synchronous in OTP's sense: `startServer` resolves only after `init` has returned, with
 * the pid, or with IGNORE; it rejects when init fails.
 */
import type { FormatStatus } from './crash-report.js';
import { TrellisError } from './errors.js';
import { Exit, type ExitReason } from './exit-reason.js';
import * as gen from './gen.js';
import { hibernateProc } from './hibernate.js';
import { NO_MESSAGE } from './mailbox.js';
import { currentNode, type Node } from './node.js';
import type { Pid } from './pid.js';
import {
  type CallMessage,
  type CastMessage,
  type ExitMessage,
  type SystemCallMessage,
  TIMEOUT,
  type Timeout,
} from './process.js';
import type { CallFrom } from './signals.js';
import { type SysRequest, SysState } from './sys.js';

const RESULT: unique symbol = Symbol('trellis.gen_server.result');

/** OTP's `{continue, C}` | Timeout | hibernate at the end of a callback's result. */
export type Action =
  | { readonly continue: unknown }
  | { readonly timeout: number }
  | { readonly hibernate: true };

export type ReplyResult<S, R> = {
  readonly [RESULT]: 'reply';
  readonly value: R;
  readonly state: S;
  readonly action?: Action | undefined;
};
export type NoReplyResult<S> = {
  readonly [RESULT]: 'noreply';
  readonly state: S;
  readonly action?: Action | undefined;
};
/** init's `{ok, State, Action}`. */
export type OkResult<S> = {
  readonly [RESULT]: 'ok';
  readonly state: S;
  readonly action?: Action | undefined;
};
export type StopResult<S, R = unknown> = {
  readonly [RESULT]: 'stop';
  readonly reason: ExitReason;
  readonly state: S;
  readonly reply?: { value: R } | undefined;
};
export type IgnoreResult = { readonly [RESULT]: 'ignore' };

export type CallResult<S, R> = ReplyResult<S, R> | NoReplyResult<S> | StopResult<S, R>;
export type CastResult<S> = NoReplyResult<S> | StopResult<S>;
export type InitResult<S> = S | OkResult<S> | IgnoreResult | StopResult<S>;

export const reply = <S, R>(value: R, state: S, action?: Action): ReplyResult<S, R> => ({
  [RESULT]: 'reply',
  value,
  state,
  action,
});
export const noreply = <S>(state: S, action?: Action): NoReplyResult<S> => ({
  [RESULT]: 'noreply',
  state,
  action,
});
/** init's result with an action: `ok(state, { continue: 'load' })`. */
export const ok = <S>(state: S, action?: Action): OkResult<S> => ({ [RESULT]: 'ok', state, action });
export const stop = <S, R = unknown>(
  reason: ExitReason,
  state: S,
  replyValue?: { value: R },
): StopResult<S, R> => ({
  [RESULT]: 'stop',
  reason,
  state,
  reply: replyValue,
});
export const ignore = (): IgnoreResult => ({ [RESULT]: 'ignore' });

type Awaitable<T> = T | Promise<T>;

export interface GenServer<
  S = unknown,
  Args extends unknown[] = unknown[],
  Req = any,
  Rep = any,
  Cast = any,
  Info = any,
> {
  init(ctx: gen.ServerContext, ...args: Args): Awaitable<InitResult<S>>;
  handleCall?(request: Req, from: CallFrom, state: S, ctx: gen.ServerContext): Awaitable<CallResult<S, Rep>>;
  handleCast?(msg: Cast, state: S, ctx: gen.ServerContext): Awaitable<CastResult<S>>;
  /** Also receives TIMEOUT when a `{ timeout: ms }` action expired with no message. */
  handleInfo?(msg: Info | Timeout, state: S, ctx: gen.ServerContext): Awaitable<CastResult<S>>;
  /** Runs right after the callback that returned `{ continue: arg }`, before any message. */
  handleContinue?(arg: any, state: S, ctx: gen.ServerContext): Awaitable<CastResult<S>>;
  terminate?(reason: ExitReason, state: S, ctx: gen.ServerContext): Awaitable<void>;
  /** What getStatus and crash reports show of the state and last message (hide secrets here). */
  formatStatus?: FormatStatus<S>;
}

/**
 * Identity function that lets TypeScript infer a behaviour's types in one place.
 *
 * The reply type `Rep` is never inferred from handleCall (`NoInfer`): TypeScript would take it from
 * the first `reply(...)` it meets, so a handleCall answering `reply('name', s)` in one branch and
 * `reply(42, s)` in another failed to type-check. Give `Rep` explicitly to constrain the replies.
 */
export function defineServer<S, Args extends unknown[], Req = any, Rep = any, Cast = any, Info = any>(
  b: GenServerDef<S, Args, Req, Rep, Cast, Info>,
): GenServer<S, Args, Req, Rep, Cast, Info> {
  return b;
}

/** GenServer as defineServer takes it: the same, with the reply type not inferred from handleCall. */
export type GenServerDef<S, Args extends unknown[], Req, Rep, Cast, Info> = Omit<
  GenServer<S, Args, Req, Rep, Cast, Info>,
  'handleCall'
> & {
  handleCall?(
    request: Req,
    from: CallFrom,
    state: S,
    ctx: gen.ServerContext,
  ): Awaitable<CallResult<S, NoInfer<Rep>>>;
};

export class NoHandlerError extends TrellisError {
  constructor(callback: string) {
    super(
      'ERR_NO_HANDLER',
      `the server received a message for ${callback}, which it does not define; add ${callback} to the behaviour`,
      {
        details: { callback },
      },
    );
  }
}

/** Whether `v` is gen_server's `ignore()` (gen_statem's init accepts it too). */
export function isIgnoreResult(v: unknown): v is IgnoreResult {
  return isResult(v, 'ignore');
}

/** Whether `v` is gen_server's `stop(...)` (gen_statem's init accepts it too). */
export function isStopResult(v: unknown): v is StopResult<unknown> {
  return isResult(v, 'stop');
}

const INIT_IGNORED = { ignore: true } as const;

/**
 * init's `ignore()` and `stop(reason)` as initServer reads them (gen_statem's init answers them too);
 * undefined for any other result.
 */
export function initEnd(r: unknown): gen.InitAnswer<never> | undefined {
  if (isResult(r, 'ignore')) return INIT_IGNORED;
  if (isResult(r, 'stop')) return { stop: (r as StopResult<unknown>).reason };
  return undefined;
}

function isResult(v: unknown, tag: string): boolean {
  return typeof v === 'object' && v !== null && (v as { [RESULT]?: string })[RESULT] === tag;
}

/** Starts a gen_server in this thread; resolves after init with its pid (or IGNORE). */
export function startServer<S, Args extends unknown[]>(
  behaviour: GenServer<S, Args>,
  args: Args,
  opts: gen.StartServerOptions = {},
  node: Node = currentNode(),
): Promise<Pid | gen.Ignore> {
  return gen.start(serverLoop<S, Args>, behaviour, args, opts, node);
}

async function serverLoop<S, Args extends unknown[]>(
  start: gen.LoopStart,
  b: GenServer<S, Args>,
  args: Args,
): Promise<void> {
  const served = await gen.initServer(
    start,
    'gen_server',
    (ctx) => b.init(ctx, ...args),
    (r): gen.InitAnswer<{ state: S; action?: Action | undefined }> =>
      initEnd(r) ?? { run: isResult(r, 'ok') ? (r as OkResult<S>) : { state: r as S } },
  );
  if (served === undefined) return;
  const { node, proc } = start;
  const { ctx, nameOf } = served;
  let state: S = served.initial.state;
  let action: Action | undefined = served.initial.action;

  const sys = new SysState<S>('gen_server', proc, ctx.parent, b.formatStatus);
  let lastMsg: unknown;
  const terminate = b.terminate;
  const finish = (reason: ExitReason, s: S): Promise<never> =>
    gen.endServer(
      ctx,
      proc,
      reason,
      terminate && ((r) => terminate(r, s, ctx)),
      { behaviour: 'gen_server', lastMessage: lastMsg, state: s, formatStatus: b.formatStatus },
      nameOf,
    );

  // OTP's {timeout, T}: armed after a callback, cancelled by the next message of any kind.
  let idleMs: number | undefined;
  let cont: { readonly continue: unknown } | undefined;
  for (;;) {
    if (action !== undefined) {
      if ('continue' in action) cont = action;
      else if ('timeout' in action) idleMs = action.timeout;
      else {
        hibernateProc(proc);
        sys.hibernated = true;
      }
      action = undefined;
    }
    let msg: unknown;
    let result: unknown;
    try {
      if (cont !== undefined) {
        // handleContinue runs before any message is looked at (OTP).
        const arg = cont.continue;
        cont = undefined;
        if (!b.handleContinue) throw new NoHandlerError('handleContinue');
        msg = CONTINUE;
        result = b.handleContinue(arg, state, ctx);
      } else {
        msg = proc.tryReceive();
        if (msg === NO_MESSAGE) msg = await proc.receive(undefined, idleMs);
        idleMs = undefined;
        if (sys.trace) sys.log('in', { msg: traceable(msg) });
        if ((msg as { type?: unknown } | null)?.type === '$system') {
          // A sys request does not wake a hibernated server in getStatus's eyes (it is not work).
          state = await system(msg as SystemCallMessage<SysRequest>, state);
          continue;
        }
        sys.hibernated = false;
        lastMsg = msg;
        result = dispatch(b, msg, state, ctx, sys);
      }
      if (result instanceof Promise) result = await result;
    } catch (e) {
      if (!proc.alive) throw e;
      await finish(Exit.error(e), state);
    }
    if (result === PARENT_EXIT) await finish((msg as ExitMessage).reason, state);
    if (result === undefined) continue;
    const r = result as CallResult<S, unknown>;
    state = r.state;
    if (r[RESULT] === 'stop') {
      const sr = r as StopResult<S>;
      if (sr.reply && (msg as CallMessage).type === '$call')
        ctx.reply((msg as CallMessage).from, sr.reply.value);
      await finish(sr.reason, state);
    }
    action = (r as NoReplyResult<S>).action;
    // Through formatStatus: a trace goes to the same log as the reports, which hide secrets.
    if (sys.trace) sys.log('state', { state: sys.shown(state) });
  }

  /** A sys request, answered between two callbacks (never seen by handleCall). */
  async function system(m: SystemCallMessage<SysRequest>, s: S): Promise<S> {
    const req = m.request;
    switch (req.t) {
      case 'get_state':
        ctx.reply(m.from, s);
        return s;
      case 'replace_state': {
        let next: S;
        try {
          next = req.fn(s) as S;
        } catch (e) {
          // OTP: a crashing StateFun leaves the state as it was and fails the caller.
          node.failCall(m.from, Exit.error(e), proc);
          return s;
        }
        ctx.reply(m.from, next);
        return next;
      }
      case 'get_status':
        ctx.reply(m.from, sys.status(s));
        return s;
      case 'trace':
        sys.trace = req.on;
        ctx.reply(m.from, undefined);
        return s;
      case 'terminate':
        return finish(req.reason, s);
      default: {
        const never: never = req;
        const t = (never as { t?: unknown }).t;
        node.failCall(m.from, Exit.error(new TypeError(`unknown sys request ${String(t)}`)), proc);
        return s;
      }
    }
  }
}

/** Marks "the last thing handled was a continue" (crash reports show it as the last message). */
const CONTINUE = Object.freeze({ type: '$continue' });

/** A message as a trace record shows it (calls without their reply routing). */
function traceable(msg: unknown): unknown {
  const m = msg as { type?: unknown; request?: unknown; msg?: unknown; from?: CallFrom } | null;
  if (m?.type === '$call') return { call: m.request, from: m.from?.pid };
  if (m?.type === '$cast') return { cast: m.msg };
  if (m?.type === '$system') return { system: (m.request as { t?: unknown })?.t };
  if (msg === TIMEOUT) return 'timeout';
  return msg;
}

const PARENT_EXIT: unique symbol = Symbol('parent_exit');

/** Routes one message to its callback; replies to calls. Returns the callback's result. */
function dispatch<S>(
  b: GenServer<S, any>,
  msg: unknown,
  state: S,
  ctx: gen.ServerContext,
  sys: SysState<S>,
): unknown {
  const type = (msg as { type?: unknown } | null)?.type;
  if (type === '$call') {
    const m = msg as CallMessage;
    if (!b.handleCall) throw new NoHandlerError('handleCall');
    const r = b.handleCall(m.request, m.from, state, ctx);
    if (r instanceof Promise) return r.then((x) => afterCall(x, m, ctx, sys));
    return afterCall(r, m, ctx, sys);
  }
  if (type === '$cast') {
    if (!b.handleCast) throw new NoHandlerError('handleCast');
    return b.handleCast((msg as CastMessage).msg, state, ctx);
  }
  if (type === 'EXIT' && ctx.parent !== undefined && (msg as ExitMessage).from === ctx.parent) {
    // OTP: a trapping gen_server ordered to stop by its parent terminates with the parent's reason.
    return PARENT_EXIT;
  }
  if (!b.handleInfo) return undefined;
  return b.handleInfo(msg, state, ctx);
}

function afterCall<S>(
  r: CallResult<S, unknown>,
  m: CallMessage,
  ctx: gen.ServerContext,
  sys: SysState<S>,
): unknown {
  // Hot path (every call): a plain comparison, not a ts-pattern match, to avoid an allocation.
  if (r[RESULT] === 'reply') {
    ctx.reply(m.from, r.value);
    if (sys.trace) sys.log('out', { to: m.from.pid, reply: r.value });
  }
  return r;
}
