/**
 * One logger for every Trellis package: crash and supervisor reports (core), worker logs and stderr
 * (grpc-bridge), and whatever else reports to an operator.
 *
 * The interface is the subset of pino's that Trellis calls, so a pino instance (or a child of the
 * app's own pino) plugs in as it is, and any other logger needs only a thin adapter. The default is
 * pino writing one JSON line per record to stderr, created on first use: pino is required lazily so
 * that a thread actor's boot path, which never logs, does not load it.
 *
 * Level of the default logger: TRELLIS_LOG_LEVEL (trace|debug|info|warn|error|fatal|silent), else
 * `info`; under the test runner (TRELLIS_TEST=1) `warn`, so that test output stays readable.
 */
import { createRequire } from 'node:module';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** A structured log call: fields first, then the message (pino's argument order). */
export type LogFn = (fields: Record<string, unknown>, msg?: string) => void;

export interface TrellisLogger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds `bindings` to every record (pino's `child`). */
  child(bindings: Record<string, unknown>): TrellisLogger;
}

const LEVELS: ReadonlySet<string> = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

let current: TrellisLogger | undefined;

function defaultLevel(): string {
  const fromEnv = process.env.TRELLIS_LOG_LEVEL;
  if (fromEnv !== undefined && LEVELS.has(fromEnv)) return fromEnv;
  return process.env.TRELLIS_TEST === '1' ? 'warn' : 'info';
}

/** The default logger: pino, JSON lines on stderr (fd 2, written synchronously so a crash loses nothing). */
export function createDefaultLogger(options: { level?: LogLevel | 'silent' } = {}): TrellisLogger {
  type Pino = typeof import('pino');
  const pino = createRequire(import.meta.url)('pino') as Pino;
  const make = (pino as unknown as { default?: Pino }).default ?? pino;
  return make(
    { level: options.level ?? defaultLevel(), base: { pid: process.pid } },
    make.destination({ fd: 2, sync: true }),
  ) as unknown as TrellisLogger;
}

/** The process-wide logger (the default one until `setLogger` is called). */
export function getLogger(): TrellisLogger {
  current ??= createDefaultLogger();
  return current;
}

/** Plug in the app's own logger (for example its pino instance) for every Trellis report. */
export function setLogger(logger: TrellisLogger): void {
  current = logger;
}

/** One record a memory logger kept: its level, its fields (a child's bindings included) and message. */
export interface LogRecord {
  readonly level: LogLevel;
  readonly fields: Record<string, unknown>;
  readonly msg: string | undefined;
}

/** A logger that keeps its records (and its children's) in `records`, in order. */
export interface MemoryLogger extends TrellisLogger {
  readonly records: LogRecord[];
}

/**
 * A logger that writes nothing and keeps every record in memory: for an app's tests that assert
 * what Trellis reports (a crash report's fields, that a secret stays out of the log), with
 * `setLogger(createMemoryLogger())`. Children share the parent's `records`.
 */
export function createMemoryLogger(): MemoryLogger {
  const records: LogRecord[] = [];
  const make = (bindings: Record<string, unknown>): MemoryLogger => {
    const at =
      (level: LogLevel): LogFn =>
      (fields, msg) => {
        records.push({ level, fields: { ...bindings, ...fields }, msg });
      };
    return {
      records,
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      fatal: at('fatal'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}
