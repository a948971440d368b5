/**
 * One process (actor) of a node: its mailbox, links, monitors and the receive that its body awaits.
 * The node (node.ts) owns the table of processes and carries out signals; this file only holds the
 * per-process state and the mailbox wake-up logic.
 */
import type { Clock, TimerHandle } from './clock.js';
import { TrellisError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { Mailbox, NO_MESSAGE } from './mailbox.js';
import type { Pid, Ref } from './pid.js';
import type { CallFrom } from './signals.js';

/** Resolved by `receive` when its time-out passes with no matching message. */
export const TIMEOUT: unique symbol = Symbol('trellis.timeout');
export type Timeout = typeof TIMEOUT;

/**
 * Thrown into a body that is still running after its process was killed (by a pending `receive`
 * rejecting, or by any context operation), so the body unwinds. It is never an exit reason.
 */
export class ProcessExitedSignal extends Error {
  constructor(readonly pid: Pid) {
    super(`process ${pid} has exited`);
    this.name = 'ProcessExitedSignal';
  }
}

export class ConcurrentReceiveError extends TrellisError {
  constructor(pid: Pid) {
    super(
      'ERR_CONCURRENT_RECEIVE',
      `process ${pid} called receive while another receive was pending; a process handles one message at a time, so await each receive before the next`,
      { details: { pid } },
    );
  }
}

interface Waiter {
  readonly pred: ((m: unknown) => boolean) | undefined;
  readonly resolve: (m: unknown) => void;
  readonly reject: (e: unknown) => void;
  timer: TimerHandle | undefined;
}

/** EXIT message a trapping process gets instead of dying (OTP's {'EXIT', From, Reason}). */
export interface ExitMessage {
  readonly type: 'EXIT';
  readonly from: Pid;
  readonly reason: ExitReason;
}

/** DOWN message of a monitor (OTP's {'DOWN', Ref, process, Pid, Reason}). */
export interface DownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  readonly pid: Pid;
  readonly reason: ExitReason;
}

/** A call as its server sees it in the mailbox; answer with `reply(from, value)`. */
export interface CallMessage<Req = unknown> {
  readonly type: '$call';
  readonly from: CallFrom;
  readonly request: Req;
}

/** A sys request (getState, getStatus, stopServer...) as a behaviour sees it; never a user callback's. */
export interface SystemCallMessage<Req = unknown> {
  readonly type: '$system';
  readonly from: CallFrom;
  readonly request: Req;
}

/** A cast as its server sees it in the mailbox. */
export interface CastMessage<Msg = unknown> {
  readonly type: '$cast';
  readonly msg: Msg;
}

/**
 * DOWN message of a monitor set up by registered name (`ctx.monitor('name')`, OTP's
 * monitor(process, Name)): it carries the name, and the pid the name resolved to (undefined when no
 * process held the name, in which case the reason is `noproc`).
 */
export interface NameDownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  readonly name: string;
  readonly pid: Pid | undefined;
  readonly reason: ExitReason;
}

export type SystemMessage = ExitMessage | DownMessage | NameDownMessage | CallMessage | CastMessage;

export type Watcher = Pid | ((reason: ExitReason, pid: Pid) => void);

export class Proc {
  readonly pid: Pid;
  readonly mailbox = new Mailbox();
  readonly links = new Set<Pid>();
  /** Monitors this process holds on others: ref -> target. */
  readonly monitors = new Map<Ref, Pid>();
  /** Monitors this process set up by name: ref -> name (their DOWN carries it). */
  monitorNames: Map<Ref, string> | undefined;
  /** Monitors others hold on this process: ref -> watcher. */
  readonly monitoredBy = new Map<Ref, Watcher>();
  /** Calls delivered to this process and not yet answered: if it dies they fail with its reason. */
  inboundCalls: Set<CallFrom> | undefined;
  /** Called once when the process exits, after links and monitors have been signalled. */
  onExit: ((reason: ExitReason) => void) | undefined;
  trapExit: boolean;
  alive = true;
  name: string | undefined;
  reason: ExitReason | undefined;
  readonly clock: Clock;
  #waiter: Waiter | undefined;

  constructor(pid: Pid, clock: Clock, trapExit: boolean) {
    this.pid = pid;
    this.clock = clock;
    this.trapExit = trapExit;
  }

  /** Puts a message in the mailbox, or hands it straight to a receive waiting for it. */
  deliver(msg: unknown): void {
    const w = this.#waiter;
    if (w !== undefined) {
      let matched: boolean;
      try {
        matched = w.pred === undefined || w.pred(msg);
      } catch (e) {
        // The predicate is the receiver's code, run here in the sender's call stack: its exception
        // belongs to the receiver (its pending receive rejects, so it crashes), never to the sender.
        this.#waiter = undefined;
        if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
        this.mailbox.push(msg);
        w.reject(e);
        return;
      }
      if (matched) {
        this.#waiter = undefined;
        if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
        w.resolve(msg);
        return;
      }
    }
    this.mailbox.push(msg);
  }

  /** The first matching message if one is queued, else NO_MESSAGE; never waits. */
  tryReceive(pred?: (m: unknown) => boolean): unknown {
    if (!this.alive) throw new ProcessExitedSignal(this.pid);
    return this.mailbox.take(pred);
  }

  receive(pred: ((m: unknown) => boolean) | undefined, timeoutMs: number | undefined): Promise<unknown> {
    if (!this.alive) return Promise.reject(new ProcessExitedSignal(this.pid));
    if (this.#waiter !== undefined) return Promise.reject(new ConcurrentReceiveError(this.pid));
    const m = this.mailbox.take(pred);
    if (m !== NO_MESSAGE) return Promise.resolve(m);
    if (timeoutMs !== undefined && timeoutMs <= 0) return Promise.resolve(TIMEOUT);
    return new Promise((resolve, reject) => {
      const w: Waiter = { pred, resolve, reject, timer: undefined };
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        w.timer = this.clock.setTimeout(() => {
          if (this.#waiter === w) {
            this.#waiter = undefined;
            resolve(TIMEOUT);
          }
        }, timeoutMs);
      }
      this.#waiter = w;
    });
  }

  /** Marks the process dead and unwinds a pending receive. The node signals links and monitors. */
  markDead(reason: ExitReason): void {
    this.alive = false;
    this.reason = reason;
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w) {
      if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
      w.reject(new ProcessExitedSignal(this.pid));
    }
    this.mailbox.clear();
  }
}
