/**
 * ToolPool options: what a user may set, validation with messages that name the field and the fix,
 * and the normalized form with every default filled in (BRIDGE_DEFAULTS).
 */

import type { Clock, Pid } from '@trellis/core';
import { systemClock } from '@trellis/core';
import { BRIDGE_DEFAULTS } from '../defaults.js';
import { InvalidPoolOptionsError } from '../errors.js';
import type { PythonLogRecord } from '../host-service.js';
import type { PythonEnvSpec } from '../worker/python-env.js';
import type { PlacementOptions, PlacementProvider } from './placement.js';
import { leastLoaded, type WorkerSelector } from './selection.js';

/**
 * What the pool needs of a heartbeat health monitor (@trellis/health's HealthMonitor fits): each
 * worker actor is registered when its Python process is ready, and beats on every answered heartbeat.
 */
export interface HealthSink {
  beat(pid: Pid): unknown;
  register?(
    pid: Pid,
    options: { intervalMs?: number; key?: string; kind?: string; supervisor?: Pid; id?: string },
  ): unknown;
}

export interface ToolPoolOptions {
  /** Python module(s) with the @tool functions: dotted names, or paths to .py files. Required. */
  readonly tools: string | readonly string[];
  /** Name in events, stats, errors and the registry (default `tool-pool`). */
  readonly name?: string;
  /** Number of Python worker processes (with `placement`: perNode × live nodes, not set here). */
  readonly size?: number;
  /**
   * Workers on the nodes of a cluster instead of this machine: `perNode` slots on each live node
   * that `nodes` selects ('cluster': every agent), placed by a registered PlacementProvider (the
   * `cluster` one of @trellis/cluster by default). See docs/grpc-bridge.md, "Pools across nodes".
   */
  readonly placement?: PlacementOptions;
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
  /**
   * Heartbeats in a row reporting abandoned executions (a tool still running after its call ended,
   * e.g. a sync tool that ignores cancellation) before the worker is recycled as wedged (default 3;
   * at once when they hold every slot of the worker). `Infinity`: never recycle for it.
   */
  readonly wedgeBeats?: number;
  /** Worker restarts allowed within `restartPeriodMs` before the pool's supervisor gives up. */
  readonly restartIntensity?: number;
  readonly restartPeriodMs?: number;
  readonly transport?: 'unix' | 'tcp';
  /**
   * The Python that runs the workers: an interpreter (path or command name), or what the pool needs,
   * `{ requirements: ['rapidfuzz>=3'], version: '3.11' }`, for which Trellis makes (once, cached) a
   * virtualenv with uv, else venv + pip (docs/python-tool-server.md, "How Python is found").
   */
  readonly python?: string | PythonEnvSpec;
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
  /**
   * Call over each worker's call lane (one framed Unix socket carrying many calls at once) instead
   * of one gRPC unary RPC per call (default true; falls back to gRPC when a worker offers no lane).
   */
  readonly lane?: boolean;
  /**
   * Over the lane, arguments, results and stream items of at least this many bytes travel through
   * shared memory (/dev/shm) instead of the socket (default 1 MiB; Infinity: never).
   */
  readonly shmThresholdBytes?: number;
  /** The largest payload sent through shared memory, either way (default 1 GiB); over it: ERR_PAYLOAD_TOO_LARGE. */
  readonly maxShmBytes?: number;
  /**
   * Results that come through shared memory are mapped into the host (copy-on-write, no copy)
   * while this process's mapped results total at most this many bytes (default 1 GiB; 0: never
   * map, always read into a new Buffer). Needs Linux and the package's mapping addon (built with
   * the package; without a C compiler at build time it is missing); without it, or with
   * TRELLIS_SHM_MAP=0 in the environment, results are read. docs/grpc-bridge.md, "Mapped results".
   */
  readonly maxMappedBytes?: number;
  readonly latencyWindow?: number;
  /** Clock for heartbeats, queue time-outs and durations (tests may inject one). */
  readonly clock?: Clock;
  /** Session affinity of calls with a session id (default `hint`); a call may override it. */
  readonly affinity?: AffinityMode;
  /** A session unused this long is ended and its Python state released (default 1 h). */
  readonly sessionTtlMs?: number;
  /** Recycle a worker this old, in ms (default Infinity: never). */
  readonly ttlMs?: number;
  /** Recycle a worker after this many calls (default Infinity: never). */
  readonly maxCalls?: number;
  /** Recycle a worker whose Python process's own RSS exceeds this many MiB (default Infinity). */
  readonly maxRssMb?: number;
  /** Tool quarantine after repeated crashes (default on: 3 crashes in 60 s -> refused 60 s); false: off. */
  readonly quarantine?: false | Partial<QuarantineOptions>;
  /** The pool's circuit breaker (default off); `true` or an object turns it on. */
  readonly circuitBreaker?: boolean | Partial<CircuitBreakerOptions>;
  /** Told of every answered worker heartbeat: `beat(pid)` with the PythonWorker actor's pid. */
  readonly healthMonitor?: HealthSink;
  /** Receives the Python workers' log records when the pool serves host tools (HostService.Log). */
  readonly onLog?: (record: PythonLogRecord) => void;
}

export type AffinityMode = 'hint' | 'strict-queue' | 'strict-fail-fast';
const AFFINITY_MODES: readonly AffinityMode[] = ['hint', 'strict-queue', 'strict-fail-fast'];

export interface QuarantineOptions {
  /** Crashes of workers running the tool within `windowMs` that quarantine it. */
  readonly crashes: number;
  readonly windowMs: number;
  /** How long a quarantined tool is refused. */
  readonly cooldownMs: number;
}

export interface CircuitBreakerOptions {
  readonly failures: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  /** Error codes that count as failures. */
  readonly codes: readonly string[];
}

// PythonLogRecord lives with HostService, which receives it (the options only name it in onLog).
export type { PythonLogRecord } from '../host-service.js';

export interface NormalizedPoolOptions {
  readonly tools: readonly string[];
  readonly name: string;
  readonly size: number;
  readonly placement: PlacementOptions | undefined;
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
  readonly wedgeBeats: number;
  readonly restartIntensity: number;
  readonly restartPeriodMs: number;
  readonly transport: 'unix' | 'tcp';
  readonly python: string | PythonEnvSpec | undefined;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly onStderr: ((line: string, pid: number) => void) | undefined;
  readonly selector: WorkerSelector;
  readonly streamHighWaterMark: number;
  readonly exitAttributionMs: number;
  readonly lane: boolean;
  readonly shmThresholdBytes: number;
  readonly maxShmBytes: number;
  readonly maxMappedBytes: number;
  readonly latencyWindow: number;
  readonly clock: Clock;
  readonly affinity: AffinityMode;
  readonly sessionTtlMs: number;
  readonly ttlMs: number;
  readonly maxCalls: number;
  readonly maxRssMb: number;
  readonly quarantine: QuarantineOptions | undefined;
  readonly circuitBreaker: CircuitBreakerOptions | undefined;
  readonly healthMonitor: HealthSink | undefined;
  readonly onLog: ((record: PythonLogRecord) => void) | undefined;
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

function shmThreshold(o: Record<string, unknown>): number {
  const v = o.shmThresholdBytes ?? BRIDGE_DEFAULTS.shmThresholdBytes;
  if (v === Number.POSITIVE_INFINITY) return v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    bad('shmThresholdBytes', v, 'use a whole number of bytes >= 1 (or Infinity: no shared memory)');
  return v as number;
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
  if (o.cwd !== undefined && (typeof o.cwd !== 'string' || o.cwd === ''))
    bad('cwd', o.cwd, 'use a non-empty path');
  if (typeof o.python === 'object' && o.python !== null) {
    const { requirements, version, sdk } = o.python as Record<string, unknown>;
    if (
      requirements !== undefined &&
      (!Array.isArray(requirements) || requirements.some((r) => typeof r !== 'string' || r.trim() === ''))
    )
      bad(
        'python.requirements',
        requirements,
        "use an array of pip requirement strings, e.g. ['rapidfuzz>=3']",
      );
    if (version !== undefined && (typeof version !== 'string' || !/^\d+(\.\d+){0,2}$/.test(version)))
      bad('python.version', version, "use a version such as '3.11'");
    if (sdk !== undefined && (typeof sdk !== 'string' || sdk === ''))
      bad('python.sdk', sdk, 'use a path to a trellis_worker wheel or source folder');
  } else if (o.python !== undefined && (typeof o.python !== 'string' || o.python === ''))
    bad(
      'python',
      o.python,
      "use a path or command name of a Python interpreter, or { requirements: [...], version: '3.11' }",
    );
  if (o.env !== undefined) {
    if (
      typeof o.env !== 'object' ||
      o.env === null ||
      Object.values(o.env).some((v) => typeof v !== 'string')
    ) {
      bad('env', o.env, 'use an object of string values');
    }
  }
  const affinity = options.affinity ?? BRIDGE_DEFAULTS.affinity;
  if (!AFFINITY_MODES.includes(affinity))
    bad('affinity', affinity, `use one of ${AFFINITY_MODES.join(', ')}`);
  if (o.maxCalls !== undefined && o.maxCalls !== Number.POSITIVE_INFINITY) int(o, 'maxCalls', 0, 1);
  if (o.maxRssMb !== undefined && (typeof o.maxRssMb !== 'number' || !(o.maxRssMb > 0)))
    bad('maxRssMb', o.maxRssMb, 'use a number of MiB > 0 (or Infinity)');
  if (o.healthMonitor !== undefined && typeof (o.healthMonitor as { beat?: unknown })?.beat !== 'function')
    bad(
      'healthMonitor',
      o.healthMonitor,
      'use a HealthMonitor from @trellis/health (an object with beat(pid))',
    );
  for (const f of ['onStderr', 'selector', 'onLog'] as const) {
    if (o[f] !== undefined && typeof o[f] !== 'function') bad(f, o[f], 'use a function');
  }
  const placement = placementOptions(o);
  return Object.freeze({
    tools: [...(tools as string[])],
    name,
    size: placement === undefined ? int(o, 'size', BRIDGE_DEFAULTS.size, 1) : 0,
    placement,
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
    wedgeBeats:
      o.wedgeBeats === Number.POSITIVE_INFINITY
        ? Number.POSITIVE_INFINITY
        : int(o, 'wedgeBeats', BRIDGE_DEFAULTS.wedgeBeats, 1),
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
    lane: options.lane ?? BRIDGE_DEFAULTS.lane,
    shmThresholdBytes: shmThreshold(o),
    maxShmBytes: int(o, 'maxShmBytes', BRIDGE_DEFAULTS.maxShmBytes, 1),
    maxMappedBytes: int(o, 'maxMappedBytes', BRIDGE_DEFAULTS.maxMappedBytes, 0),
    latencyWindow: int(o, 'latencyWindow', BRIDGE_DEFAULTS.latencyWindow, 1),
    clock: options.clock ?? systemClock,
    affinity,
    sessionTtlMs: ms(o, 'sessionTtlMs', BRIDGE_DEFAULTS.sessionTtlMs, true),
    ttlMs: ms(o, 'ttlMs', BRIDGE_DEFAULTS.ttlMs, true),
    maxCalls: (o.maxCalls as number | undefined) ?? BRIDGE_DEFAULTS.maxCalls,
    maxRssMb: (o.maxRssMb as number | undefined) ?? BRIDGE_DEFAULTS.maxRssMb,
    quarantine: quarantineOptions(options.quarantine),
    circuitBreaker: breakerOptions(options.circuitBreaker),
    healthMonitor: options.healthMonitor,
    onLog: options.onLog,
  });
}

/** `placement`, checked; its provider is looked up when the pool starts (it may register later). */
function placementOptions(o: Record<string, unknown>): PlacementOptions | undefined {
  const p = o.placement;
  if (p === undefined) return undefined;
  if (typeof p !== 'object' || p === null)
    bad('placement', p, "use { nodes: 'cluster' | ['node-a', ...], perNode: 4 }");
  const r = p as Record<string, unknown>;
  const nodes = r.nodes;
  if (
    nodes !== 'cluster' &&
    (!Array.isArray(nodes) || nodes.length === 0 || nodes.some((n) => typeof n !== 'string' || n === ''))
  )
    bad('placement.nodes', nodes, "use 'cluster' (every agent node) or a non-empty array of node names");
  const perNode = r.perNode;
  if (typeof perNode !== 'number' || !Number.isInteger(perNode) || perNode < 1)
    bad('placement.perNode', perNode, 'use a whole number of workers per node >= 1');
  const provider = r.provider;
  if (
    provider !== undefined &&
    !(typeof provider === 'string' && provider !== '') &&
    !(
      typeof provider === 'object' &&
      provider !== null &&
      typeof (provider as PlacementProvider).launch === 'function'
    )
  )
    bad(
      'placement.provider',
      provider,
      'use the key of a registered provider, or a PlacementProvider object',
    );
  if (o.size !== undefined)
    bad(
      'size',
      o.size,
      'leave size out with placement: the pool has perNode workers on each live node (placement.perNode)',
    );
  if (typeof o.python === 'object' && o.python !== null)
    bad(
      'python',
      o.python,
      'with placement, use the path of an interpreter that exists on every agent node (or leave python out: each agent uses its own), and install the requirements there',
    );
  return Object.freeze({
    nodes: nodes === 'cluster' ? 'cluster' : Object.freeze([...(nodes as string[])]),
    perNode: perNode as number,
    ...(provider === undefined ? {} : { provider: provider as string | PlacementProvider }),
  });
}

function quarantineOptions(q: ToolPoolOptions['quarantine']): QuarantineOptions | undefined {
  if (q === false) return undefined;
  if (q !== undefined && (typeof q !== 'object' || q === null))
    bad('quarantine', q, 'use false or { crashes, windowMs, cooldownMs }');
  const r = { ...BRIDGE_DEFAULTS.quarantine, ...(q ?? {}) } as unknown as Record<string, unknown>;
  return Object.freeze({
    crashes: int(r, 'crashes', 0, 1),
    windowMs: ms(r, 'windowMs', 0, true),
    cooldownMs: ms(r, 'cooldownMs', 0, false),
  });
}

function breakerOptions(c: ToolPoolOptions['circuitBreaker']): CircuitBreakerOptions | undefined {
  if (c === undefined || c === false) return undefined;
  if (c !== true && (typeof c !== 'object' || c === null))
    bad('circuitBreaker', c, 'use true, false or { failures, windowMs, cooldownMs, codes }');
  const d = BRIDGE_DEFAULTS.circuitBreaker;
  const r = { ...d, ...(c === true ? {} : c) } as unknown as Record<string, unknown>;
  const codes = r.codes;
  if (!Array.isArray(codes) || codes.some((x) => typeof x !== 'string'))
    bad('circuitBreaker.codes', codes, 'use an array of error codes such as ["ERR_WORKER_EXITED"]');
  return Object.freeze({
    failures: int(r, 'failures', 0, 1),
    windowMs: ms(r, 'windowMs', 0, false),
    cooldownMs: ms(r, 'cooldownMs', 0, false),
    codes: Object.freeze([...(codes as string[])]),
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
  /** Session affinity of this call (default: the pool's `affinity`). */
  readonly affinity?: AffinityMode;
}

export interface StreamOptions extends CallOptions {
  /** Items buffered before the gRPC stream is paused (default: the pool's streamHighWaterMark). */
  readonly highWaterMark?: number;
}
