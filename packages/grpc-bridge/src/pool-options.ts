/**
 * ToolPool options: what a user may set, validation with messages that name the field and the fix,
 * and the normalized form with every default filled in (BRIDGE_DEFAULTS).
 */
import type { Clock } from '@trellis/core';
import { systemClock } from '@trellis/core';
import { BRIDGE_DEFAULTS } from './defaults.js';
import { InvalidPoolOptionsError } from './errors.js';
import { leastLoaded, type WorkerSelector } from './worker-selection.js';

export interface ToolPoolOptions {
  /** Python module(s) with the @tool functions: dotted names, or paths to .py files. Required. */
  readonly tools: string | readonly string[];
  /** Name in events, stats, errors and the registry (default `tool-pool`). */
  readonly name?: string;
  /** Number of Python worker processes. */
  readonly size?: number;
  /** Calls one worker runs at once (the worker's `--concurrency`). */
  readonly concurrency?: number;
  /** Calls the dispatcher sends one worker at once (default: `concurrency`). */
  readonly maxConcurrentPerWorker?: number;
  readonly maxQueue?: number;
  readonly queueTimeoutMs?: number;
  /** Default overall budget of a call, queue wait included (`Infinity` for none). */
  readonly callTimeoutMs?: number;
  readonly maxMessageBytes?: number;
  /** Drain time on shutdown before SIGKILL. */
  readonly graceMs?: number;
  readonly startTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatMisses?: number;
  /** Worker restarts allowed within `restartPeriodMs` before the pool's supervisor gives up. */
  readonly restartIntensity?: number;
  readonly restartPeriodMs?: number;
  readonly transport?: 'unix' | 'tcp';
  /** The Python interpreter (default `$TRELLIS_PYTHON`, else `<repo>/.venv/bin/python`). */
  readonly python?: string;
  /** Working directory of the workers (default: this process's). */
  readonly cwd?: string;
  /** Extra environment variables for the workers (added to this process's environment). */
  readonly env?: Readonly<Record<string, string>>;
  /** Receives each line the workers write to stderr (their logs); by default only a tail is kept. */
  readonly onStderr?: (line: string, pid: number) => void;
  /** Chooses the worker for each call (default: least loaded). */
  readonly selector?: WorkerSelector;
  readonly streamHighWaterMark?: number;
  readonly exitAttributionMs?: number;
  readonly latencyWindow?: number;
  /** Clock for heartbeats, queue time-outs and durations (tests may inject one). */
  readonly clock?: Clock;
}

export interface NormalizedPoolOptions {
  readonly tools: readonly string[];
  readonly name: string;
  readonly size: number;
  readonly concurrency: number;
  readonly maxConcurrentPerWorker: number;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly graceMs: number;
  readonly shutdownMs: number;
  readonly startTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatMisses: number;
  readonly restartIntensity: number;
  readonly restartPeriodMs: number;
  readonly transport: 'unix' | 'tcp';
  readonly python: string | undefined;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly onStderr: ((line: string, pid: number) => void) | undefined;
  readonly selector: WorkerSelector;
  readonly streamHighWaterMark: number;
  readonly exitAttributionMs: number;
  readonly latencyWindow: number;
  readonly clock: Clock;
}

function bad(field: string, value: unknown, want: string): never {
  throw new InvalidPoolOptionsError(`ToolPool option ${field} is ${describe(value)}; ${want}`, {
    field,
    value: describe(value),
  });
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function int(o: Record<string, unknown>, field: string, dflt: number, min: number): number {
  const v = o[field] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(field, v, `use a whole number >= ${min}`);
  return v;
}

function ms(o: Record<string, unknown>, field: string, dflt: number, allowInfinity: boolean): number {
  const v = o[field] ?? dflt;
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (!allowInfinity && !Number.isFinite(v))) {
    bad(field, v, `use a number of milliseconds >= 0${allowInfinity ? ' (or Infinity)' : ''}`);
  }
  return v;
}

export function normalizePoolOptions(options: ToolPoolOptions): NormalizedPoolOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidPoolOptionsError(
      'ToolPool needs an options object with at least { tools: "my_tools.py" }',
    );
  }
  const o = options as unknown as Record<string, unknown>;
  const tools = typeof options.tools === 'string' ? [options.tools] : options.tools;
  if (
    !Array.isArray(tools) ||
    tools.length === 0 ||
    tools.some((t) => typeof t !== 'string' || t.trim() === '')
  ) {
    bad(
      'tools',
      options.tools,
      'name the Python module(s) with your @tool functions, e.g. tools: "examples/pool/tools.py" or ["my_pkg.tools"]',
    );
  }
  const name = options.name ?? 'tool-pool';
  if (typeof name !== 'string' || name === '' || /[\s/]/.test(name))
    bad('name', name, 'use a non-empty name without spaces or slashes');
  const concurrency = int(o, 'concurrency', BRIDGE_DEFAULTS.concurrency, 1);
  const transport = options.transport ?? BRIDGE_DEFAULTS.transport;
  if (transport !== 'unix' && transport !== 'tcp') bad('transport', transport, 'use "unix" or "tcp"');
  const graceMs = ms(o, 'graceMs', BRIDGE_DEFAULTS.graceMs, false);
  const heartbeatIntervalMs = ms(o, 'heartbeatIntervalMs', BRIDGE_DEFAULTS.heartbeatIntervalMs, false);
  if (heartbeatIntervalMs < 10) bad('heartbeatIntervalMs', heartbeatIntervalMs, 'use at least 10 ms');
  const maxMessageBytes = int(o, 'maxMessageBytes', BRIDGE_DEFAULTS.maxMessageBytes, 1024);
  if (maxMessageBytes > 2 ** 31 - 1)
    bad('maxMessageBytes', maxMessageBytes, 'use at most 2147483647 (gRPC limit)');
  for (const f of ['python', 'cwd'] as const) {
    if (o[f] !== undefined && (typeof o[f] !== 'string' || o[f] === '')) bad(f, o[f], 'use a non-empty path');
  }
  if (o.env !== undefined) {
    if (
      typeof o.env !== 'object' ||
      o.env === null ||
      Object.values(o.env).some((v) => typeof v !== 'string')
    ) {
      bad('env', o.env, 'use an object of string values');
    }
  }
  for (const f of ['onStderr', 'selector'] as const) {
    if (o[f] !== undefined && typeof o[f] !== 'function') bad(f, o[f], 'use a function');
  }
  return Object.freeze({
    tools: [...(tools as string[])],
    name,
    size: int(o, 'size', BRIDGE_DEFAULTS.size, 1),
    concurrency,
    maxConcurrentPerWorker: int(
      o,
      'maxConcurrentPerWorker',
      BRIDGE_DEFAULTS.maxConcurrentPerWorker ?? concurrency,
      1,
    ),
    maxQueue: int(o, 'maxQueue', BRIDGE_DEFAULTS.maxQueue, 0),
    queueTimeoutMs: ms(o, 'queueTimeoutMs', BRIDGE_DEFAULTS.queueTimeoutMs, true),
    callTimeoutMs: ms(o, 'callTimeoutMs', BRIDGE_DEFAULTS.callTimeoutMs, true),
    maxMessageBytes,
    graceMs,
    shutdownMs: Math.ceil(graceMs + BRIDGE_DEFAULTS.shutdownMarginMs),
    startTimeoutMs: ms(o, 'startTimeoutMs', BRIDGE_DEFAULTS.startTimeoutMs, false),
    heartbeatIntervalMs,
    heartbeatMisses: int(o, 'heartbeatMisses', BRIDGE_DEFAULTS.heartbeatMisses, 1),
    restartIntensity: int(o, 'restartIntensity', BRIDGE_DEFAULTS.restartIntensity, 0),
    restartPeriodMs: int(o, 'restartPeriodMs', BRIDGE_DEFAULTS.restartPeriodMs, 1),
    transport,
    python: options.python,
    cwd: options.cwd ?? process.cwd(),
    env: { ...(options.env ?? {}) },
    onStderr: options.onStderr,
    selector: options.selector ?? leastLoaded(),
    streamHighWaterMark: int(o, 'streamHighWaterMark', BRIDGE_DEFAULTS.streamHighWaterMark, 1),
    exitAttributionMs: ms(o, 'exitAttributionMs', BRIDGE_DEFAULTS.exitAttributionMs, false),
    latencyWindow: int(o, 'latencyWindow', BRIDGE_DEFAULTS.latencyWindow, 1),
    clock: options.clock ?? systemClock,
  });
}

/** Per-call options of `pool.call` and `pool.stream`. */
export interface CallOptions {
  /** Overall budget in ms, queue wait included (default: the pool's callTimeoutMs). */
  readonly timeoutMs?: number;
  /** Cancels the call: dropped from the queue, or the gRPC call is cancelled and Python sees it. */
  readonly signal?: AbortSignal;
  /** Session id, visible to the tool as ctx.session_id (state in ctx.session). */
  readonly sessionId?: string;
  /**
   * Safe to run twice: if its worker dies mid-call it is retried once on another worker. Default:
   * what the tool declared with @tool(idempotent=True).
   */
  readonly idempotent?: boolean;
  /** String metadata, visible to the tool as ctx.metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Return results as ToolPayload (bytes + content type) instead of decoding them. */
  readonly raw?: boolean;
}

export interface StreamOptions extends CallOptions {
  /** Items buffered before the gRPC stream is paused (default: the pool's streamHighWaterMark). */
  readonly highWaterMark?: number;
}
