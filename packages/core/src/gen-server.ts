/**
 * The gen_server behaviour: init, handleCall, handleCast, handleInfo, terminate.
 *
 * Callbacks answer with tagged results built by `reply`, `noreply` and `stop`, so a state of any shape
 * can never be mistaken for a result. `init` returns the initial state, `ignore()` or `stop(...)`.
 *
 * Starting is synchronous in OTP's sense: `startServer` resolves only after `init` has returned, with
 * the pid, or with IGNORE; it rejects when init fails.
 */
import { ActorContext } from './actor.js';
import type { Clock } from './clock.js';
import { TrellisError } from './errors.js';
import { Exit, type ExitReason, formatReason } from './exit-reason.js';
import { NO_MESSAGE } from './mailbox.js';
import { type ViaName, viaRegistry } from './names/via.js';
import { currentNode, type Node } from './node.js';
import type { Pid, Ref } from './pid.js';
import type { CallMessage, CastMessage, ExitMessage } from './process.js';
import type { CallFrom } from './signals.js';

const RESULT: unique symbol = Symbol('trellis.gen_server.result');

export type ReplyResult<S, R> = { readonly [RESULT]: 'reply'; readonly value: R; readonly state: S };
export type NoReplyResult<S> = { readonly [RESULT]: 'noreply'; readonly state: S };
export type StopResult<S, R = unknown> = {
  readonly [RESULT]: 'stop';
  readonly reason: ExitReason;
  readonly state: S;
  readonly reply?: { value: R } | undefined;
};
export type IgnoreResult = { readonly [RESULT]: 'ignore' };

export type CallResult<S, R> = ReplyResult<S, R> | NoReplyResult<S> | StopResult<S, R>;
export type CastResult<S> = NoReplyResult<S> | StopResult<S>;
export type InitResult<S> = S | IgnoreResult | StopResult<S>;

export const reply = <S, R>(value: R, state: S): ReplyResult<S, R> => ({ [RESULT]: 'reply', value, state });
export const noreply = <S>(state: S): NoReplyResult<S> => ({ [RESULT]: 'noreply', state });
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

/** What a start function returns when the child chose not to start (OTP's `ignore`). */
export const IGNORE: unique symbol = Symbol('trellis.ignore');
export type Ignore = typeof IGNORE;

type Awaitable<T> = T | Promise<T>;

export interface GenServer<
  S = unknown,
  Args extends unknown[] = unknown[],
  Req = any,
  Rep = any,
  Cast = any,
  Info = any,
> {
  init(ctx: ServerContext, ...args: Args): Awaitable<InitResult<S>>;
  handleCall?(request: Req, from: CallFrom, state: S, ctx: ServerContext): Awaitable<CallResult<S, Rep>>;
  handleCast?(msg: Cast, state: S, ctx: ServerContext): Awaitable<CastResult<S>>;
  handleInfo?(msg: Info, state: S, ctx: ServerContext): Awaitable<CastResult<S>>;
  terminate?(reason: ExitReason, state: S, ctx: ServerContext): Awaitable<void>;
}

/** Identity function that lets TypeScript infer a behaviour's types in one place. */
export function defineServer<S, Args extends unknown[], Req = any, Rep = any, Cast = any, Info = any>(
  b: GenServer<S, Args, Req, Rep, Cast, Info>,
): GenServer<S, Args, Req, Rep, Cast, Info> {
  return b;
}

export class ServerContext extends ActorContext {
  /** The process that started this server (its supervisor), if any. */
  parent: Pid | undefined;
}

export interface StartServerOptions {
  /** Link to this pid before init runs (a supervisor passes itself). */
  readonly link?: Pid | undefined;
  /** A local name, or a `{ via, name }` registered before init runs (OTP) and unregistered at exit. */
  readonly name?: string | ViaName | undefined;
  readonly clock?: Clock | undefined;
  /** Trap exits from the start (a server can also call ctx.trapExit(true) in init). */
  readonly trapExit?: boolean | undefined;
  /** The parent whose EXIT (when trapping) stops the server with terminate; defaults to `link`. */
  readonly parent?: Pid | undefined;
}

export class InitFailedError extends TrellisError {
  readonly reason: ExitReason;
  constructor(reason: ExitReason) {
    super('ERR_INIT_FAILED', `server init failed: ${formatReason(reason)}`, {
      cause: reason.type === 'error' ? reason.cause : undefined,
    });
    this.reason = reason;
  }
}

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

function isResult(v: unknown, tag: string): boolean {
  return typeof v === 'object' && v !== null && (v as { [RESULT]?: string })[RESULT] === tag;
}

/** Starts a gen_server in this thread; resolves after init with its pid (or IGNORE). */
export function startServer<S, Args extends unknown[]>(
  behaviour: GenServer<S, Args>,
  args: Args,
  opts: StartServerOptions = {},
  node: Node = currentNode(),
): Promise<Pid | Ignore> {
  return new Promise((resolve, reject) => {
    let watch: Ref | undefined;
    // Once init has answered, the start no longer cares how the server ends: drop the watch directly on
    // the server (node.demonitor would search every process for a callback monitor).
    const unwatch = () => {
      if (watch !== undefined) node.procs.get(pid)?.monitoredBy.delete(watch);
    };
    const pid = node.spawn(
      (proc) =>
        serverLoop(
          node,
          proc,
          behaviour,
          args,
          opts,
          (p) => {
            unwatch();
            resolve(p);
          },
          (e) => {
            unwatch();
            reject(e);
          },
        ),
      {
        link: opts.link,
        name: typeof opts.name === 'string' ? opts.name : undefined,
        clock: opts.clock,
        trapExit: opts.trapExit,
      },
    );
    // Like proc_lib's start_link, wait for init's answer *or the server's death*: a server killed while
    // init is still awaiting something (or before it ran at all) must fail the start, not leave it
    // pending for ever, which would hang a supervisor starting it.
    watch = node.monitor((reason) => reject(new InitFailedError(reason)), pid);
  });
}

async function serverLoop<S, Args extends unknown[]>(
  node: Node,
  proc: import('./process.js').Proc,
  b: GenServer<S, Args>,
  args: Args,
  opts: StartServerOptions,
  started: (p: Pid | Ignore) => void,
  failed: (e: unknown) => void,
): Promise<void> {
  const ctx = new ServerContext(node, proc);
  ctx.parent = opts.parent ?? opts.link ?? node.selfPid;
  // When init does not produce a running server, the process ends in the same synchronous step that
  // answers the start (as proc_lib does since OTP 26), so when the starter's await resumes the process
  // is gone, its name free and its links signalled. Ending it a few promise hops later instead, a
  // supervisor retrying a named child at once could hit ERR_NAME_TAKEN.
  if (typeof opts.name === 'object') {
    // OTP registers a via name before init (gen:start -> register_name); a taken name fails the start
    // with the registry's error ({already_started, Pid}) and the process ends normally.
    const via = opts.name;
    try {
      const registry = viaRegistry(via);
      await registry.registerName(via.name, proc.pid);
      node.monitor(() => {
        registry.unregisterName(via.name).catch(() => undefined);
      }, proc.pid);
    } catch (e) {
      failed(e);
      node.terminate(proc, Exit.normal);
      return;
    }
    if (!proc.alive) return;
  }
  let state: S;
  try {
    const r = await b.init(ctx, ...args);
    if (isResult(r, 'ignore')) {
      started(IGNORE);
      node.terminate(proc, Exit.normal);
      return;
    }
    if (isResult(r, 'stop')) {
      const reason = (r as StopResult<S>).reason;
      failed(new InitFailedError(reason));
      node.terminate(proc, reason);
      return;
    }
    state = r as S;
  } catch (e) {
    if (!proc.alive) {
      failed(new InitFailedError(proc.reason ?? Exit.killed));
      throw e;
    }
    failed(new InitFailedError(Exit.error(e)));
    node.terminate(proc, Exit.error(e));
    return;
  }
  if (!proc.alive) {
    // Killed while init was awaiting something: the watch in startServer has failed the start already.
    return;
  }
  started(proc.pid);

  const finish = async (reason: ExitReason, s: S): Promise<void> => {
    if (b.terminate) await b.terminate(reason, s, ctx);
    ctx.stop(reason);
  };

  for (;;) {
    let msg = proc.tryReceive();
    if (msg === NO_MESSAGE) msg = await proc.receive(undefined, undefined);
    let result: unknown;
    try {
      result = dispatch(b, msg, state, ctx);
      if (result instanceof Promise) result = await result;
    } catch (e) {
      if (!proc.alive) throw e;
      await finish(Exit.error(e), state);
    }
    if (result === PARENT_EXIT) await finish((msg as ExitMessage).reason, state);
    if (result === undefined) continue;
    const r = result as CallResult<S, unknown> & { from?: CallFrom };
    state = r.state;
    if (r[RESULT] === 'stop') {
      const sr = r as StopResult<S>;
      if (sr.reply && (msg as CallMessage).type === '$call')
        ctx.reply((msg as CallMessage).from, sr.reply.value);
      await finish(sr.reason, state);
    }
  }
}

const PARENT_EXIT: unique symbol = Symbol('parent_exit');

/** Routes one message to its callback; replies to calls. Returns the callback's result. */
function dispatch<S>(b: GenServer<S, any>, msg: unknown, state: S, ctx: ServerContext): unknown {
  const type = (msg as { type?: unknown } | null)?.type;
  if (type === '$call') {
    const m = msg as CallMessage;
    if (!b.handleCall) throw new NoHandlerError('handleCall');
    const r = b.handleCall(m.request, m.from, state, ctx);
    if (r instanceof Promise) return r.then((x) => afterCall(x, m, ctx));
    return afterCall(r, m, ctx);
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

function afterCall<S>(r: CallResult<S, unknown>, m: CallMessage, ctx: ServerContext): unknown {
  // Hot path (every call): a plain comparison, not a ts-pattern match, to avoid an allocation.
  if (r[RESULT] === 'reply') ctx.reply(m.from, r.value);
  return r;
}
