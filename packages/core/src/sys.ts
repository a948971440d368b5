/**
 * OTP's `sys` for Trellis behaviours: inspect and change a live server (getState, replaceState,
 * getStatus), trace every message in and out (trace), and stop it gracefully (stopServer, OTP's
 * gen_server:stop/3 and proc_lib:stop/3).
 *
 * Requests travel as system calls (`$system` messages): a behaviour's loop answers them itself, between
 * two callbacks, so they never reach handleCall and always see a consistent state. They work across
 * threads like any call, except replaceState, whose function cannot be copied to another thread.
 */
import { DEFAULT_CALL_TIMEOUT_MS } from './actor.js';
import { noprocError, serverExitedError } from './call-table.js';
import type { Clock } from './clock.js';
import { applyFormatStatus, type FormatStatus } from './crash-report.js';
import { TrellisError } from './errors.js';
import { Exit, type ExitReason, formatReason } from './exit-reason.js';
import { getLogger } from './logger.js';
import { isViaName, type ServerRef, viaRegistry } from './names/via.js';
import { currentNode } from './node.js';
import type { Pid } from './pid.js';
import type { Proc } from './process.js';

export type SysRequest =
  | { readonly t: 'get_state' }
  | { readonly t: 'replace_state'; readonly fn: (state: unknown) => unknown }
  | { readonly t: 'get_status' }
  | { readonly t: 'trace'; readonly on: boolean }
  | { readonly t: 'terminate'; readonly reason: ExitReason };

/** What getStatus answers (OTP's sys:get_status, as an object). */
export interface ServerStatus {
  readonly pid: Pid;
  readonly name: string | undefined;
  readonly behaviour: 'gen_server' | 'gen_statem';
  /** 'hibernated' from a hibernate until the next message. */
  readonly status: 'running' | 'hibernated';
  readonly parent: Pid | undefined;
  readonly trace: boolean;
  readonly messageQueueLength: number;
  /** The state (gen_statem: the data) as the behaviour's formatStatus shows it. */
  readonly state: unknown;
  /** gen_statem only: the current state. */
  readonly stateName?: unknown;
}

export class StopTimeoutError extends TrellisError {
  constructor(target: string, timeoutMs: number) {
    super(
      'ERR_STOP_TIMEOUT',
      `stopServer(${target}) timed out after ${timeoutMs} ms: its terminate did not finish (or it is busy in a callback). Raise the time-out, make terminate faster, or kill it with exit(pid, 'kill')`,
      { details: { target, timeoutMs } },
    );
  }
}

/** The per-server side of sys: a behaviour's loop owns one and hands it every `$system` request. */
export class SysState<S> {
  trace = false;
  hibernated = false;
  constructor(
    readonly behaviour: 'gen_server' | 'gen_statem',
    readonly proc: Proc,
    readonly parent: Pid | undefined,
    readonly formatStatus: FormatStatus<S> | undefined,
  ) {}

  /** Answers a sys request; returns the new state for replace_state, or a reason to terminate with. */
  status(state: S, stateName?: unknown): ServerStatus {
    return {
      pid: this.proc.pid,
      name: this.proc.name,
      behaviour: this.behaviour,
      status: this.hibernated ? 'hibernated' : 'running',
      parent: this.parent,
      trace: this.trace,
      messageQueueLength: this.proc.mailbox.size,
      state: this.shown(state),
      ...(stateName === undefined ? {} : { stateName }),
    };
  }

  /** The state as formatStatus shows it: what getStatus, crash reports and trace records show. */
  shown(state: S): unknown {
    return applyFormatStatus(this.formatStatus, { state }).state;
  }

  /** sys:trace output: one structured log record per event, on the shared logger (info level). */
  log(event: 'in' | 'out' | 'state', fields: Record<string, unknown>): void {
    try {
      getLogger().info(
        { report: 'sys_trace', event, actor: this.proc.pid, name: this.proc.name, ...fields },
        `${this.behaviour} ${this.proc.name ?? this.proc.pid} ${event}`,
      );
    } catch {
      // tracing must never change what the server does
    }
  }
}

// ---- the client side -------------------------------------------------------------------------------

export interface SysOptions {
  readonly timeoutMs?: number;
  readonly clock?: Clock;
}

async function resolveRef(server: ServerRef): Promise<Pid | string> {
  if (typeof server !== 'object') return server;
  if (!isViaName(server)) throw new TypeError(`not a pid, name or { via, name }: ${String(server)}`);
  const pid = await viaRegistry(server).whereisName(server.name);
  if (pid === undefined) throw noprocError(server.name, true);
  return pid;
}

async function sysCall<R>(server: ServerRef, req: SysRequest, opts: SysOptions = {}): Promise<R> {
  const node = currentNode();
  const to = await resolveRef(server);
  return (await node.call(
    undefined,
    to,
    req,
    opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    opts.clock,
    true,
  )) as R;
}

/** sys:get_state: the server's state (gen_statem: `{ state, data }`), unfiltered by formatStatus. */
export function getState<S = unknown>(server: ServerRef, opts?: SysOptions): Promise<S> {
  return sysCall<S>(server, { t: 'get_state' }, opts);
}

/**
 * sys:replace_state: the state becomes `fn(state)` (gen_statem: `fn({ state, data })`), between two
 * callbacks; resolves with the new state. If `fn` throws, the state is unchanged and this rejects.
 * In-thread servers only: a function cannot be sent to another thread.
 */
export function replaceState<S = unknown>(
  server: ServerRef,
  fn: (state: S) => S,
  opts?: SysOptions,
): Promise<S> {
  return sysCall<S>(server, { t: 'replace_state', fn: fn as (s: unknown) => unknown }, opts);
}

/** sys:get_status: who the server is and its state as its formatStatus shows it. */
export function getStatus(server: ServerRef, opts?: SysOptions): Promise<ServerStatus> {
  return sysCall<ServerStatus>(server, { t: 'get_status' }, opts);
}

/** sys:trace: while on, the server logs every message in, every reply out and every new state. */
export async function trace(server: ServerRef, on: boolean, opts?: SysOptions): Promise<void> {
  await sysCall(server, { t: 'trace', on }, opts);
}

/**
 * gen_server:stop/3 (also for gen_statem): orders the server to terminate with `reason` (its
 * terminate callback runs), and resolves once it has exited with that reason. Works outside any
 * supervisor. Rejects with ERR_NOPROC when there is no such process, with ERR_STOP_TIMEOUT when it has
 * not exited within `timeoutMs` (it is left running, as OTP's), and with ERR_CALL_SERVER_EXITED when it
 * exited with another reason (its terminate crashed).
 */
export async function stopServer(
  server: ServerRef,
  reason: ExitReason = Exit.normal,
  timeoutMs: number = Number.POSITIVE_INFINITY,
  clock?: Clock,
): Promise<void> {
  const node = currentNode();
  const to = await resolveRef(server);
  const pid = typeof to === 'string' && to.charCodeAt(0) === 60 ? (to as Pid) : node.whereis(to);
  if (pid === undefined) throw noprocError(String(to), true);
  const label = pid === to ? pid : `"${to}" (${pid})`;
  const c = clock ?? node.defaultClock;
  await new Promise<void>((resolve, reject) => {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const ref = node.monitor((r) => {
      if (timer !== undefined) c.clearTimeout(timer);
      if (r.type === 'noproc') reject(noprocError(label, false));
      else if (formatReason(r) === formatReason(reason)) resolve();
      else reject(serverExitedError(label, r));
    }, pid);
    if (Number.isFinite(timeoutMs)) {
      timer = c.setTimeout(() => {
        node.demonitor(ref);
        reject(new StopTimeoutError(label, timeoutMs));
      }, timeoutMs);
    }
    // The request's own answer does not matter: the monitor tells how the server ended. It is failed
    // with the server's reason when the server exits, so its rejection is expected and dropped.
    node
      .call(
        undefined,
        pid,
        { t: 'terminate', reason } satisfies SysRequest,
        Number.POSITIVE_INFINITY,
        c,
        true,
      )
      .catch(() => undefined);
  });
}
