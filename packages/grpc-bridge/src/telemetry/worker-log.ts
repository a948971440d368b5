/**
 * Where a worker's output goes by default: the host's logger (`getLogger()` of @trellis/core, pino
 * unless the app plugged in its own with `setLogger`), as structured records carrying the pool, the
 * worker's slot and OS pid, and for Python log records made through `ctx.log` the tool, call id
 * and session id.
 *
 * The pool starts its workers with `--log-format json`, so each Python log record arrives as one
 * JSON line on stderr, marked with `"trellis_log"`; any other stderr line (a tool's print(), a C
 * library's warning, a traceback printed by hand) is a record of its own with `source: "stderr"`.
 * With host tools, records come over HostService instead (same fields).
 *
 * Every record also goes to the pool's log listeners (`pool.onLog`), which is how the observer
 * keeps a worker's log tail and `trellis logs` follows it.
 */
import { getLogger, type LogLevel } from '@trellis/core';
import type { PythonLogRecord } from '../pool/options.js';

/** One record of a worker's log, as the pool's log listeners get it. */
export interface WorkerLogRecord {
  /** Wall-clock time, ms since the epoch. */
  readonly at: number;
  readonly pool: string;
  /** The worker's slot in the pool (undefined when the record cannot be tied to one). */
  readonly worker: number | undefined;
  /** OS pid of the Python process. */
  readonly workerPid: number | undefined;
  readonly level: LogLevel;
  readonly msg: string;
  /** `python` (a logging record), `stderr` (any other line) or `pool` (the pool's own lifecycle). */
  readonly source: 'python' | 'stderr' | 'pool';
  readonly logger?: string | undefined;
  readonly tool?: string | undefined;
  readonly callId?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly traceback?: string | undefined;
}

export type WorkerLogListener = (r: WorkerLogRecord) => void;

/** Python's numeric levels to the logger's. */
export function levelOf(pythonLevel: number): LogLevel {
  if (pythonLevel >= 50) return 'fatal';
  if (pythonLevel >= 40) return 'error';
  if (pythonLevel >= 30) return 'warn';
  if (pythonLevel >= 20) return 'info';
  if (pythonLevel >= 10) return 'debug';
  return 'trace';
}

/** Records lines longer than this are cut (a runaway line must not become one huge record). */
const MAX_LINE = 16 * 1024;
const MARKER = '{"trellis_log"';

/** A JSON log line of the worker's (`--log-format json`), or undefined for any other text. */
export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith(MARKER)) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The pool's log sink: the logger, and the listeners. */
export class WorkerLogs {
  readonly #pool: string;
  readonly #listeners = new Set<WorkerLogListener>();

  constructor(pool: string) {
    this.#pool = pool;
  }

  on(listener: WorkerLogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * One stderr line of the worker in `slot` (a JSON log record, or plain text): returns the record
   * made of it (undefined for a blank line). `toLogger` false: to the listeners only.
   */
  stderrLine(
    slot: number | undefined,
    pid: number,
    raw: string,
    toLogger = true,
  ): WorkerLogRecord | undefined {
    const line = raw.length > MAX_LINE ? `${raw.slice(0, MAX_LINE)}…` : raw;
    const j = parseJsonLine(line);
    let r: WorkerLogRecord;
    if (j === undefined) {
      if (line.trim() === '') return undefined;
      r = {
        at: Date.now(),
        pool: this.#pool,
        worker: slot,
        workerPid: pid,
        level: 'info',
        msg: line,
        source: 'stderr',
      };
      this.emit(r, undefined, toLogger);
      return r;
    }
    r = {
      at: typeof j.time === 'number' ? j.time : Date.now(),
      pool: this.#pool,
      worker: slot,
      workerPid: pid,
      level: levelOf(typeof j.level === 'number' ? j.level : 20),
      msg: typeof j.msg === 'string' ? j.msg : String(j.msg),
      source: 'python',
      logger: str(j.logger),
      tool: str(j.tool),
      callId: str(j.callId),
      sessionId: str(j.sessionId),
      traceback: str(j.traceback),
    };
    this.emit(r, undefined, toLogger);
    return r;
  }

  /** A Python log record forwarded over HostService. */
  pythonRecord(slot: number | undefined, r: PythonLogRecord): void {
    this.emit({
      at: r.timeUnixMs || Date.now(),
      pool: this.#pool,
      worker: slot,
      workerPid: r.pid,
      level: levelOf(r.level),
      msg: r.message,
      source: 'python',
      logger: str(r.logger),
      tool: str(r.tool),
      callId: str(r.callId),
      sessionId: str(r.sessionId),
      traceback: str(r.traceback),
    });
  }

  /** A lifecycle record of the pool itself (a worker died, was restarted, recycled, ...). */
  pool(
    level: LogLevel,
    msg: string,
    fields: { worker?: number; workerPid?: number } & Record<string, unknown>,
  ): void {
    const { worker, workerPid, ...rest } = fields;
    this.emit(
      {
        at: Date.now(),
        pool: this.#pool,
        worker,
        workerPid,
        level,
        msg,
        source: 'pool',
      },
      rest,
    );
  }

  emit(r: WorkerLogRecord, extra?: Record<string, unknown>, toLogger = true): void {
    if (toLogger) this.#log(r, extra);
    for (const l of this.#listeners) {
      try {
        l(r);
      } catch {
        // A faulty listener must not stop the others.
      }
    }
  }

  #log(r: WorkerLogRecord, extra: Record<string, unknown> | undefined): void {
    const fields: Record<string, unknown> = { pool: r.pool, source: r.source };
    if (r.worker !== undefined) fields.worker = r.worker;
    if (r.workerPid !== undefined) fields.workerPid = r.workerPid;
    if (r.logger !== undefined) fields.logger = r.logger;
    if (r.tool !== undefined) fields.tool = r.tool;
    if (r.callId !== undefined) fields.callId = r.callId;
    if (r.sessionId !== undefined) fields.sessionId = r.sessionId;
    if (r.traceback !== undefined) fields.traceback = r.traceback;
    if (extra !== undefined) Object.assign(fields, extra);
    try {
      getLogger()[r.level](fields, r.msg);
    } catch {
      // The app's logger failing must not take a worker's output pipe down with it.
    }
  }
}

/** A record as one readable line (for an app's own `onStderr`), like the worker's text format. */
export function textLine(r: WorkerLogRecord): string {
  const where = r.callId ? ` [${r.tool ?? ''} ${r.callId}]` : '';
  return `${r.level.toUpperCase()} ${r.logger ?? ''}${where}: ${r.msg}${r.traceback ? `\n${r.traceback}` : ''}`;
}
