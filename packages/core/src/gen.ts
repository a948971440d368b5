/**
 * What gen_server and gen_statem share, like OTP's gen.erl and proc_lib: the server's context, the
 * start options, the synchronous start (`startBehaviour`: resolves once init has answered), the run
 * of init and the start's answer (`initServer`: the `{ via, name }` registered first, init's failures
 * after), and the end of a running server (terminate, crash report, exit).
 *
 * Its own file so that the two behaviours use one copy of each step (gen-server.ts and
 * gen-statem/gen-statem.ts hold only what differs: their callbacks and loops).
 */
import { ActorContext } from './actor.js';
import type { Clock } from './clock.js';
import { reportInitCrash, reportServerCrash, type ServerCrash } from './crash-report.js';
import { TrellisError } from './errors.js';
import { Exit, type ExitReason, formatReason } from './exit-reason.js';
import { type ViaName, viaRegistry } from './names/via.js';
import type { Node } from './node.js';
import type { Pid, Ref } from './pid.js';
import type { Proc } from './process.js';

/** What a start function returns when the child chose not to start (OTP's `ignore`). */
export const IGNORE: unique symbol = Symbol('trellis.ignore');
export type Ignore = typeof IGNORE;

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
  /**
   * OTP's start_link `{timeout, T}`: when init has not returned within this many ms the server is
   * killed and the start rejects with ERR_START_TIMEOUT. Default: no limit.
   */
  readonly startTimeoutMs?: number | undefined;
}

export class StartTimeoutError extends TrellisError {
  constructor(timeoutMs: number) {
    super(
      'ERR_START_TIMEOUT',
      `server init did not return within ${timeoutMs} ms, so the server was killed; make init faster (move slow work to handleContinue with ok(state, { continue })) or raise startTimeoutMs`,
      { details: { timeoutMs } },
    );
  }
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

/** The loop of a behaviour: it must call `started` or `failed` exactly once, when init has answered. */
export type BehaviourLoop = (
  proc: Proc,
  started: (p: Pid | Ignore) => void,
  failed: (e: unknown) => void,
) => Promise<void>;

/**
 * proc_lib's start_link for any behaviour (gen_server, gen_statem): spawns the process running
 * `loop`, and resolves once init has answered. Fails the start when the process dies first, and kills
 * it when init takes longer than `startTimeoutMs`.
 */
export function startBehaviour(
  node: Node,
  opts: StartServerOptions,
  loop: BehaviourLoop,
): Promise<Pid | Ignore> {
  return new Promise((resolve, reject) => {
    let watch: Ref | undefined;
    let answered = false;
    let startedHook: (() => void) | undefined;
    // Once init has answered, the start no longer cares how the server ends: drop the watch directly on
    // the server (node.demonitor would search every process for a callback monitor).
    const unwatch = () => {
      if (watch !== undefined) node.procs.get(pid)?.monitoredBy.delete(watch);
    };
    // init's answer, started or failed: the first one settles the start, later ones are ignored.
    const answer =
      <T>(settle: (v: T) => void) =>
      (v: T): void => {
        if (answered) return;
        answered = true;
        startedHook?.();
        unwatch();
        settle(v);
      };
    const pid = node.spawn((proc) => loop(proc, answer<Pid | Ignore>(resolve), answer<unknown>(reject)), {
      link: opts.link,
      name: typeof opts.name === 'string' ? opts.name : undefined,
      clock: opts.clock,
      trapExit: opts.trapExit,
    });
    // Like proc_lib's start_link, wait for init's answer *or the server's death*: a server killed while
    // init is still awaiting something (or before it ran at all) must fail the start, not leave it
    // pending for ever, which would hang a supervisor starting it.
    watch = node.monitor((reason) => reject(new InitFailedError(reason)), pid);
    const limit = opts.startTimeoutMs;
    if (limit !== undefined && Number.isFinite(limit)) {
      const clock = opts.clock ?? node.defaultClock;
      const timer = clock.setTimeout(() => {
        answered = true;
        unwatch();
        reject(new StartTimeoutError(limit));
        // proc_lib's kill_flush: unlink first, so the parent (a supervisor) gets no EXIT for a child it
        // never had, then kill. The process dies with `killed`; no crash report (it was killed).
        const proc = node.procs.get(pid);
        if (proc !== undefined && opts.link !== undefined) node.unlink(proc, opts.link);
        node.exit(node.selfPid, pid, 'kill');
      }, limit);
      startedHook = () => clock.clearTimeout(timer);
    }
  });
}

/**
 * Registers a `{ via, name }` before init (OTP's gen:start -> register_name) and unregisters it when
 * the process exits. Returns false when the start has failed (a taken name: {already_started, Pid});
 * the process has then ended normally.
 */
export async function registerViaName(
  node: Node,
  proc: Proc,
  opts: StartServerOptions,
  failed: (e: unknown) => void,
): Promise<boolean> {
  if (typeof opts.name !== 'object') return true;
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
    return false;
  }
  return proc.alive;
}

/**
 * init's failures, the same for gen_server and gen_statem (proc_lib's init_fail): the starter
 * gets ERR_INIT_FAILED, the crash report is logged, and the process ends with the reason.
 */
function failInit(
  node: Node,
  proc: Proc,
  behaviour: 'gen_server' | 'gen_statem',
  name: string | undefined,
  reason: ExitReason,
  failed: (e: unknown) => void,
): void {
  failed(new InitFailedError(reason));
  reportInitCrash(behaviour, proc.pid, name, reason);
  node.terminate(proc, reason);
}

/** init threw `e`: a failed init, or (killed meanwhile) the kill's reason, and `e` rethrown. */
function initThrew(
  node: Node,
  proc: Proc,
  behaviour: 'gen_server' | 'gen_statem',
  name: string | undefined,
  e: unknown,
  failed: (e: unknown) => void,
): void {
  if (!proc.alive) {
    failed(new InitFailedError(proc.reason ?? Exit.killed));
    throw e;
  }
  failInit(node, proc, behaviour, name, Exit.error(e), failed);
}

/**
 * The end of a running gen_server or gen_statem: its terminate callback (an exception there
 * replaces the reason, as in OTP), the crash report for an unclean reason, then the exit.
 */
export async function endServer<S>(
  ctx: ServerContext,
  proc: Proc,
  reason: ExitReason,
  terminate: ((reason: ExitReason) => unknown) | undefined,
  report: Omit<ServerCrash<S>, 'reason' | 'pid' | 'name' | 'parent' | 'links' | 'queueLength'>,
  nameOf: () => string | undefined,
): Promise<never> {
  let r = reason;
  if (terminate) {
    try {
      await terminate(reason);
    } catch (e) {
      if (!proc.alive) throw e;
      r = Exit.error(e);
    }
  }
  reportServerCrash({
    ...report,
    pid: proc.pid,
    name: nameOf(),
    parent: ctx.parent,
    reason: r,
    links: [...proc.links],
    queueLength: proc.mailbox.size,
  });
  return ctx.stop(r);
}

/**
 * gen:start for gen_server and gen_statem (as their start_link calls `gen:start(?MODULE, ...)`): the
 * synchronous start of the behaviour's own `loop`, given its callbacks and init's arguments.
 */
export function start<B, Args>(
  loop: (s: LoopStart, behaviour: B, args: Args) => Promise<void>,
  behaviour: B,
  args: Args,
  opts: StartServerOptions,
  node: Node,
): Promise<Pid | Ignore> {
  return startBehaviour(node, opts, (proc, started, failed) =>
    loop({ node, proc, opts, started, failed }, behaviour, args),
  );
}

/** What a behaviour's loop starts with (gen_server's in gen-server.ts, gen_statem's in gen-statem/). */
export interface LoopStart {
  readonly node: Node;
  readonly proc: Proc;
  readonly opts: StartServerOptions;
  readonly started: (p: Pid | Ignore) => void;
  readonly failed: (e: unknown) => void;
}

/** How init answered, as the behaviour reads it: run with `initial`, or end as `ignore()` / `stop(reason)`. */
export type InitAnswer<T> = { readonly run: T } | { readonly ignore: true } | { readonly stop: ExitReason };

/** The server as init leaves it running: its context, what init gave, and its name for reports. */
export interface InitServed<T> {
  readonly ctx: ServerContext;
  readonly initial: T;
  readonly nameOf: () => string | undefined;
}

/**
 * proc_lib's init_it for gen_server and gen_statem: the context (whose parent is the starter's link),
 * the `{ via, name }` registered, init run and the start answered. `read` turns init's result into
 * an InitAnswer (it runs inside the guard: a throw there fails init as init's own would). Undefined
 * when the server does not run: the start has then been answered and the process has ended.
 */
export async function initServer<T>(
  s: LoopStart,
  behaviour: 'gen_server' | 'gen_statem',
  init: (ctx: ServerContext) => unknown,
  read: (r: unknown) => InitAnswer<T>,
): Promise<InitServed<T> | undefined> {
  const { node, proc, opts, started, failed } = s;
  const ctx = new ServerContext(node, proc);
  ctx.parent = opts.parent ?? opts.link ?? node.selfPid;
  if (!(await registerViaName(node, proc, opts, failed))) return undefined;
  const nameOf = () => proc.name ?? (typeof opts.name === 'object' ? opts.name.name : undefined);
  // When init does not produce a running server, the process ends in the same synchronous step that
  // answers the start (as proc_lib does since OTP 26), so when the starter's await resumes the process
  // is gone, its name free and its links signalled. Ending it a few promise hops later instead, a
  // supervisor retrying a named child at once could hit ERR_NAME_TAKEN.
  let initial: T;
  try {
    const answer = read(await init(ctx));
    if ('ignore' in answer) {
      started(IGNORE);
      node.terminate(proc, Exit.normal);
      return undefined;
    }
    if ('stop' in answer) {
      failInit(node, proc, behaviour, nameOf(), answer.stop, failed);
      return undefined;
    }
    initial = answer.run;
  } catch (e) {
    initThrew(node, proc, behaviour, nameOf(), e, failed);
    return undefined;
  }
  // Killed while init was awaiting something: startBehaviour's watch has failed the start already.
  if (!proc.alive) return undefined;
  started(proc.pid);
  return { ctx, initial, nameOf };
}
