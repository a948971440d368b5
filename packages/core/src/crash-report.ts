/**
 * Crash, supervisor and progress reports through the one logger (logger.ts), with the fields OTP's
 * logger gives them: who (pid, registered name), why (reason), the last message, and the state as the
 * behaviour's `formatStatus` shows it (so secrets can be hidden).
 *
 * OTP writes two records for a behaviour that ends abnormally: the behaviour's own error report
 * (gen_server "terminating", with last message and state) and proc_lib's crash report (initial call,
 * ancestors, queue, links). We write both, under `report: 'gen_server_terminate'` (or
 * 'gen_statem_terminate') and `report: 'crash_report'`.
 *
 * getLogger() loads pino on first use only, so a thread that never crashes never loads it.
 */
import { describeValue, serializeError } from './errors.js';
import { type ExitReason, formatReason, isCleanExit } from './exit-reason.js';
import { getLogger } from './logger.js';
import type { Pid } from './pid.js';

/** What `formatStatus` receives and returns (OTP's format_status/1 map). */
export interface StatusInfo<S = unknown> {
  readonly state: S;
  readonly message?: unknown;
  readonly reason?: ExitReason;
}
export type FormatStatus<S> = (status: StatusInfo<S>) => {
  readonly state: unknown;
  readonly message?: unknown;
  readonly reason?: unknown;
};

/** Runs `formatStatus` when there is one; a formatStatus that throws hides everything. */
export function applyFormatStatus<S>(
  format: FormatStatus<S> | undefined,
  info: StatusInfo<S>,
): { state: unknown; message?: unknown; reason?: unknown } {
  if (format === undefined) return info;
  try {
    return format(info);
  } catch (e) {
    // OTP: a crashing format_status is replaced by a note, never by the raw (maybe secret) state.
    const note = `formatStatus threw: ${e instanceof Error ? e.message : describeValue(e)}`;
    return { state: note, message: note, reason: info.reason };
  }
}

/** An exit reason in log fields: its OTP-style text, plus the error when there is one. */
export function reasonFields(reason: unknown): Record<string, unknown> {
  if (typeof reason !== 'object' || reason === null || !('type' in reason)) return { reason };
  const r = reason as ExitReason;
  const out: Record<string, unknown> = { reason: formatReason(r) };
  if (r.type === 'error') out.err = serializeError(r.cause);
  return out;
}

export interface ServerCrash<S> {
  readonly behaviour: 'gen_server' | 'gen_statem';
  readonly pid: Pid;
  readonly name: string | undefined;
  readonly parent: Pid | undefined;
  readonly reason: ExitReason;
  readonly lastMessage: unknown;
  readonly state: S;
  readonly formatStatus: FormatStatus<S> | undefined;
  readonly links: readonly Pid[];
  readonly queueLength: number;
  /** gen_statem: the state name; the data is `state`. */
  readonly stateName?: unknown;
}

/** Reports a behaviour that ends with a reason other than normal/shutdown (OTP does the same). */
export function reportServerCrash<S>(c: ServerCrash<S>): void {
  if (isCleanExit(c.reason)) return;
  const shown = applyFormatStatus(c.formatStatus, {
    state: c.state,
    message: c.lastMessage,
    reason: c.reason,
  });
  try {
    const log = getLogger();
    const who = c.name === undefined ? c.pid : `${c.name} (${c.pid})`;
    log.error(
      {
        report: `${c.behaviour}_terminate`,
        actor: c.pid,
        name: c.name,
        ...reasonFields(c.reason),
        lastMessage: shown.message,
        state: shown.state,
        ...(c.stateName === undefined ? {} : { stateName: c.stateName }),
      },
      `${c.behaviour} ${who} terminating with reason ${formatReason(c.reason)}`,
    );
    log.error(
      {
        report: 'crash_report',
        actor: c.pid,
        name: c.name,
        initialCall: c.behaviour,
        ancestors: c.parent === undefined ? [] : [c.parent],
        messageQueueLength: c.queueLength,
        links: c.links,
        ...reasonFields(c.reason),
      },
      `crash report: ${who} exited with ${formatReason(c.reason)}`,
    );
  } catch {
    // A logger that throws must not change how the process ends.
  }
}

/** A process that died before its behaviour ran (init crashed, or timed out): proc_lib's crash report. */
export function reportInitCrash(
  behaviour: string,
  pid: Pid,
  name: string | undefined,
  reason: ExitReason,
): void {
  if (isCleanExit(reason)) return;
  try {
    getLogger().error(
      {
        report: 'crash_report',
        actor: pid,
        name,
        initialCall: behaviour,
        phase: 'init',
        ...reasonFields(reason),
      },
      `crash report: ${behaviour} ${name ?? pid} failed in init with ${formatReason(reason)}`,
    );
  } catch {
    // as above
  }
}
