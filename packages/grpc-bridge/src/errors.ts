/**
 * Errors of @trellis/grpc-bridge. Every one is a TrellisError with a stable code (docs/errors.md,
 * section @trellis/grpc-bridge); the message says what was wrong and how to fix it, and `details`
 * carries the same facts as data so they survive serialization across threads.
 */
import { InvalidOptionsError, NodeDownError, NodeUnreachableError, TrellisError } from '@trellis/core';

/** What a failed tool call knows about where it failed. */
export interface ToolCallFailure {
  readonly tool: string;
  /** gRPC status code name (`INVALID_ARGUMENT`, ...) when the worker or gRPC answered. */
  readonly grpcStatus?: string | undefined;
  /** Python exception class, e.g. `ValueError` (from the worker's ErrorDetail). */
  readonly pythonType?: string | undefined;
  readonly pythonMessage?: string | undefined;
  /** Python traceback, starting at the tool's own frame. */
  readonly traceback?: string | undefined;
  /** For ERR_INVALID_ARGUMENT: the offending argument, e.g. `items[2].name`. */
  readonly fieldPath?: string | undefined;
  /** For ERR_TOOL_NOT_FOUND: the tools the pool serves. */
  readonly availableTools?: readonly string[] | undefined;
  /** PID of the worker that ran (or refused) the call. */
  readonly workerPid?: number | undefined;
}

/**
 * A call failed at the tool or the transport: ERR_TOOL_NOT_FOUND, ERR_INVALID_ARGUMENT,
 * ERR_TOOL_FAILED, ERR_DEADLINE_EXCEEDED, ERR_CANCELLED, ERR_PAYLOAD_TOO_LARGE,
 * ERR_STREAMING_MISMATCH, ERR_WORKER_UNAVAILABLE, ERR_TRANSPORT.
 */
export class ToolCallError extends TrellisError implements ToolCallFailure {
  readonly tool: string;
  readonly grpcStatus: string | undefined;
  readonly pythonType: string | undefined;
  readonly pythonMessage: string | undefined;
  readonly traceback: string | undefined;
  readonly fieldPath: string | undefined;
  readonly availableTools: readonly string[] | undefined;
  readonly workerPid: number | undefined;

  constructor(code: string, message: string, failure: ToolCallFailure, cause?: unknown) {
    super(code, message, { cause, details: stripUndefined({ ...failure }) });
    this.tool = failure.tool;
    this.grpcStatus = failure.grpcStatus;
    this.pythonType = failure.pythonType;
    this.pythonMessage = failure.pythonMessage;
    this.traceback = failure.traceback;
    this.fieldPath = failure.fieldPath;
    this.availableTools = failure.availableTools;
    this.workerPid = failure.workerPid;
  }
}

/** How a worker process ended. */
export interface WorkerExit {
  readonly pid: number;
  /** Exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended it (e.g. `SIGKILL`), or null. */
  readonly signal: string | null;
  /** The end of the worker's stderr, for diagnosis. */
  readonly stderrTail?: string | undefined;
  /**
   * Set when a worker on another node ended because that node went down (its membership lapsed) or
   * became unreachable: the worker may even still run there, but this pool has lost it. The calls
   * in flight on it fail with ERR_NODE_DOWN / ERR_NODE_UNREACHABLE instead of ERR_WORKER_EXITED.
   */
  readonly node?: WorkerExitNode | undefined;
}

/** Where a remote worker's exit came from (see WorkerExit.node). */
export interface WorkerExitNode {
  readonly node: string;
  readonly incarnation: number;
  readonly why: 'down' | 'unreachable';
}

function describeExit(e: WorkerExit): string {
  return e.signal !== null ? `was killed by ${e.signal}` : `exited with code ${String(e.exitCode)}`;
}

/**
 * ERR_WORKER_EXITED: the Python worker process died. It is the exit reason of the PythonWorker
 * actor, and the error of every call that was running on it (unless the call was retried).
 */
export class WorkerExitedError extends TrellisError implements WorkerExit {
  readonly pid: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderrTail: string | undefined;
  readonly tool: string | undefined;

  constructor(exit: WorkerExit, opts: { tool?: string; why?: string; cause?: unknown } = {}) {
    const during = opts.tool === undefined ? '' : ` while running tool "${opts.tool}"`;
    const why = opts.why ?? 'the supervisor restarts it; look at stderrTail (or the tool) for why it died';
    super('ERR_WORKER_EXITED', `Python worker ${exit.pid} ${describeExit(exit)}${during}; ${why}`, {
      cause: opts.cause,
      details: stripUndefined({ ...exit, tool: opts.tool }),
    });
    this.pid = exit.pid;
    this.exitCode = exit.exitCode;
    this.signal = exit.signal;
    this.stderrTail = exit.stderrTail;
    this.tool = opts.tool;
  }
}

/** ERR_HEARTBEAT_MISSED: the worker stopped answering heartbeats and was killed. */
export class HeartbeatMissedError extends TrellisError {
  constructor(pid: number, misses: number, intervalMs: number, lastError: string | undefined) {
    super(
      'ERR_HEARTBEAT_MISSED',
      `Python worker ${pid} missed ${misses} heartbeats in a row (one every ${intervalMs} ms${lastError ? `; last: ${lastError}` : ''}); it was killed and is restarted. A worker that is stopped, swapping or stuck in C code without releasing the GIL cannot answer: raise heartbeatIntervalMs/heartbeatMisses if its tools legitimately block that long`,
      { details: stripUndefined({ pid, misses, intervalMs, lastError }) },
    );
  }
}

/**
 * ERR_WORKER_MEMORY_LIMIT: the worker went over `maxRssMb` and was killed (by the host's RSS poll,
 * or the kernel's cap refused it memory). It is the error of the calls that were running on it (one
 * of them made it grow); the worker is replaced.
 */
export class WorkerMemoryLimitError extends TrellisError {
  readonly pid: number;
  readonly limitMb: number;
  readonly rssBytes: number | undefined;
  readonly tool: string | undefined;

  constructor(
    pid: number,
    limitMb: number,
    rssBytes: number | undefined,
    how: string,
    tool?: string | undefined,
  ) {
    const rss = rssBytes === undefined ? '' : ` (RSS ${(rssBytes / 2 ** 20).toFixed(0)} MiB)`;
    const during = tool === undefined ? '' : ` while running tool "${tool}"`;
    super(
      'ERR_WORKER_MEMORY_LIMIT',
      `Python worker ${pid} went over its memory limit maxRssMb = ${limitMb} MiB${rss}${during}: ${how}; it was killed and is replaced. Raise maxRssMb if the tool needs that much, or find what it keeps (a cache, a leak)`,
      { details: stripUndefined({ pid, limitMb, rssBytes, tool, how }) },
    );
    this.pid = pid;
    this.limitMb = limitMb;
    this.rssBytes = rssBytes;
    this.tool = tool;
    this.#how = how;
  }

  readonly #how: string;

  /** The same fault, as the error of one call that was running on the worker. */
  forCall(tool: string): WorkerMemoryLimitError {
    return new WorkerMemoryLimitError(this.pid, this.limitMb, this.rssBytes, this.#how, tool);
  }
}

/** ERR_WORKER_START_FAILED / ERR_PYTHON_SDK_MISSING: a worker did not become ready. */
export class WorkerStartError extends TrellisError {
  constructor(
    code: 'ERR_WORKER_START_FAILED' | 'ERR_PYTHON_SDK_MISSING',
    message: string,
    details: Record<string, unknown>,
  ) {
    super(code, message, { details: stripUndefined(details) });
  }
}

/** ERR_PYTHON_NOT_FOUND: no Python interpreter where the bridge looked. */
export class PythonNotFoundError extends TrellisError {
  constructor(message: string, details: Record<string, unknown>) {
    super('ERR_PYTHON_NOT_FOUND', message, { details: stripUndefined(details) });
  }
}

/** ERR_POOL_SATURATED: the queue already holds `maxQueue` calls. */
export class PoolSaturatedError extends TrellisError {
  constructor(pool: string, tool: string, maxQueue: number) {
    super(
      'ERR_POOL_SATURATED',
      `pool "${pool}" is saturated: every worker is busy and ${maxQueue} calls are already queued, so the call to "${tool}" was refused; retry later, add workers (size), or raise maxQueue`,
      { details: { pool, tool, maxQueue } },
    );
  }
}

/** ERR_QUEUE_TIMEOUT: a call waited for a worker longer than allowed. */
export class QueueTimeoutError extends TrellisError {
  constructor(pool: string, tool: string, waitedMs: number, limitMs: number) {
    super(
      'ERR_QUEUE_TIMEOUT',
      `call to "${tool}" waited ${Math.round(waitedMs)} ms in pool "${pool}"'s queue without getting a worker (limit ${Math.round(limitMs)} ms, the smaller of queueTimeoutMs and the call's timeoutMs); add workers, raise queueTimeoutMs, or send fewer calls at once`,
      { details: { pool, tool, waitedMs: Math.round(waitedMs), limitMs } },
    );
  }
}

/** ERR_POOL_CLOSED: the pool is not running (never started, stopped, or its supervisor gave up). */
export class PoolClosedError extends TrellisError {
  constructor(pool: string, why: string, cause?: unknown) {
    super(
      'ERR_POOL_CLOSED',
      `pool "${pool}" is not running (${why}); start it (ToolPool.start or put pool.childSpec() in a tree) before calling it`,
      {
        cause,
        details: { pool, why },
      },
    );
  }
}

/** ERR_INVALID_POOL_OPTIONS: bad options for a ToolPool or a call. */
export class InvalidPoolOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_POOL_OPTIONS';
}

export function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** ERR_WORKER_BUSY: a strict-fail-fast session call found its session's worker busy. */
export class WorkerBusyError extends TrellisError {
  constructor(pool: string, tool: string, sessionId: string, pid: number) {
    super(
      'ERR_WORKER_BUSY',
      `call to "${tool}" in session "${sessionId}" was refused: the session's worker (PID ${pid}) in pool "${pool}" is busy and the affinity is "strict-fail-fast"; retry later, or use affinity "strict-queue" to wait for it or "hint" to run elsewhere`,
      { details: { pool, tool, sessionId, pid } },
    );
  }
}

/**
 * ERR_SESSION_WORKER_GONE: the worker holding a session's state exited (or was recycled), and a
 * strict affinity forbids running the session's calls anywhere else.
 */
export class SessionWorkerGoneError extends TrellisError {
  constructor(pool: string, tool: string, sessionId: string, pid: number, how: string) {
    super(
      'ERR_SESSION_WORKER_GONE',
      `call to "${tool}" in session "${sessionId}" cannot run: the session's worker (PID ${pid}) in pool "${pool}" ${how}, and the session's state (ctx.session) was lost with it. The call was not sent to another worker because the affinity is strict; end the session (pool.endSession) and create a new one, or use affinity "hint"`,
      { details: { pool, tool, sessionId, pid, how } },
    );
  }
}

/** ERR_TOOL_QUARANTINED: the tool crashed workers too often recently; refused for a cooling period. */
export class ToolQuarantinedError extends TrellisError {
  constructor(pool: string, tool: string, crashes: number, windowMs: number, retryInMs: number) {
    super(
      'ERR_TOOL_QUARANTINED',
      `tool "${tool}" is quarantined in pool "${pool}": it crashed ${crashes} workers (crash signal or exit code 134/137/139) within ${windowMs} ms, so it is refused for ${Math.ceil(retryInMs)} ms more instead of crash-looping the pool; fix the tool (native crash, out of memory), or tune quarantine (crashes, windowMs, cooldownMs)`,
      { details: { pool, tool, crashes, windowMs, retryInMs: Math.ceil(retryInMs) } },
    );
  }
}

/** ERR_CIRCUIT_OPEN: the pool's circuit breaker is open after too many failures. */
export class CircuitOpenError extends TrellisError {
  constructor(pool: string, tool: string, failures: number, retryInMs: number) {
    super(
      'ERR_CIRCUIT_OPEN',
      `call to "${tool}" was refused: pool "${pool}"'s circuit breaker is open after ${failures} failures; it lets a probe call through in ${Math.ceil(retryInMs)} ms. Find out why the pool's calls fail (pool.stats().errorsByCode), or tune circuitBreaker`,
      { details: { pool, tool, failures, retryInMs: Math.ceil(retryInMs) } },
    );
  }
}

/** ERR_PYTHON_ENV: a pool's `python: { requirements, version }` env could not be made. */
export class PythonEnvError extends TrellisError {
  constructor(message: string, details: Record<string, unknown>) {
    super('ERR_PYTHON_ENV', message, { details: stripUndefined(details) });
  }
}

/** True for ERR_NODE_DOWN / ERR_NODE_UNREACHABLE: a worker (or its launch) lost with its node. */
export function isNodeLoss(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return code === 'ERR_NODE_DOWN' || code === 'ERR_NODE_UNREACHABLE';
}

/**
 * The error of a call that was running on a worker whose node went down or became unreachable
 * (`exit.node`): ERR_NODE_DOWN / ERR_NODE_UNREACHABLE from @trellis/core, with the node, its
 * incarnation, the tool and the worker's pid in `details`. Whether the call ran there is unknown, so
 * the pool retries it on another worker only when the tool is idempotent (call/call.ts).
 */
export function nodeLostError(
  exit: WorkerExit & { readonly node: WorkerExitNode },
  tool: string | undefined,
  idempotent: boolean,
): NodeDownError | NodeUnreachableError {
  const what =
    tool === undefined ? `Python worker ${exit.pid}` : `call to "${tool}" on Python worker ${exit.pid}`;
  const extra = {
    incarnation: exit.node.incarnation,
    details: stripUndefined({ tool, workerPid: exit.pid }),
    hint:
      tool === undefined
        ? 'the pool removed its slot, and adds perNode workers on the node again when it is back'
        : idempotent
          ? 'the tool is idempotent but the call had already been retried once, or its budget ran out'
          : 'the call was not retried on another worker because its tool is not idempotent (it may or may not have run there); declare it idempotent (@tool(idempotent=True) or { idempotent: true }) if running it twice is safe',
  };
  return exit.node.why === 'down'
    ? new NodeDownError(exit.node.node, what, extra)
    : new NodeUnreachableError(exit.node.node, what, 'its worker was lost with it', extra);
}
