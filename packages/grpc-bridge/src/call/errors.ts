/**
 * Turning a failed gRPC call into a ToolCallError with a stable code.
 *
 * A failure the worker reported carries an ErrorDetail (Python type, message, traceback, field
 * path, available tools) in the `trellis-error-bin` trailer; its status code picks the Trellis code.
 * A failure without the trailer came from gRPC itself: our own deadline or cancel, a request over
 * a message limit, or the transport (the connection dropped). Transport failures are returned as
 * TRANSPORT so the caller can find out whether the worker process died (ERR_WORKER_EXITED).
 *
 * The drivers (unary.ts, stream.ts) turn every failed attempt into the call's error here, and
 * nowhere else: `rpcFailure` for a failed RPC, `workerExited` when the worker's process died under
 * the call, `unavailable` when only the transport failed and no exit followed; and
 * `retryExclusions`, the workers a retry after that failure must avoid.
 */
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { Span } from '@opentelemetry/api';
import { NodeDownError, NodeUnreachableError } from '@trellis/core';
import { BRIDGE_DEFAULTS } from '../defaults.js';
import {
  nodeLostError,
  ToolCallError,
  type ToolCallFailure,
  type WorkerExit,
  WorkerExitedError,
  WorkerMemoryLimitError,
} from '../errors.js';
import { LANE_CLOSED_DETAILS } from '../lane/lane-client.js';
import type { PoolWorker } from '../pool/dispatcher.js';
import type { PoolRuntime } from '../pool/runtime.js';
import { decodeErrorDetail } from '../protos.js';
import { memoryExitError } from '../worker/memory-limit.js';
import type { PreparedCall } from './prep.js';
import { notFound, streamingMismatch } from './prep.js';

export const TRANSPORT = Symbol('transport');

/** What the mapping of an attempt's failure reads of its call (call.ts's Call). */
export interface FailingCall {
  readonly rt: PoolRuntime;
  readonly p: PreparedCall;
  /** The call's span (call.ts's CallSpan), which records the worker's exit. */
  readonly span: { readonly span: Span } | undefined;
}

/** How an RPC on a worker failed, once its cause is known. */
export interface RpcFailure {
  readonly error:
    | ToolCallError
    | WorkerExitedError
    | WorkerMemoryLimitError
    | NodeDownError
    | NodeUnreachableError;
  /** Ended by its deadline or a cancellation: the tool may not have stopped, and may hold its place. */
  readonly suspect: boolean;
}

export interface CallErrorContext {
  readonly tool: string;
  readonly workerPid: number | undefined;
  /** The call's overall budget, for the time-out message. */
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
  /** True when the caller's AbortSignal fired (a CANCELLED status is then ours). */
  readonly aborted: boolean;
  readonly abortReason?: unknown;
}

export function statusName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? `STATUS_${code}`;
}

/** Maps a failed call; TRANSPORT when only the transport failed (connection dropped, worker gone). */
export function mapCallError(err: ServiceError, c: CallErrorContext): ToolCallError | typeof TRANSPORT {
  const grpcStatus = statusName(err.code);
  const base: ToolCallFailure = { tool: c.tool, grpcStatus, workerPid: c.workerPid };
  if (c.aborted && err.code === status.CANCELLED) {
    return new ToolCallError(
      'ERR_CANCELLED',
      `call to "${c.tool}" was cancelled by its AbortSignal; the tool saw the cancellation through its context`,
      base,
      c.abortReason,
    );
  }
  const d = decodeErrorDetail(err.metadata instanceof Metadata ? err.metadata : undefined);
  if (d) {
    const f: ToolCallFailure = {
      ...base,
      pythonType: d.errorType || undefined,
      pythonMessage: d.message,
      traceback: d.traceback || undefined,
      fieldPath: err.code === status.INVALID_ARGUMENT ? d.fieldPath : undefined,
      availableTools: err.code === status.NOT_FOUND ? d.availableTools : undefined,
    };
    switch (err.code) {
      case status.INVALID_ARGUMENT: {
        const at = d.fieldPath ? ` at ${d.fieldPath}` : '';
        return new ToolCallError(
          'ERR_INVALID_ARGUMENT',
          `invalid arguments for tool "${c.tool}"${at}: ${d.message}; pass arguments that match the tool's parameters (pool.tools() lists its JSON Schema)`,
          f,
        );
      }
      case status.NOT_FOUND:
        return notFound(c.tool, d.availableTools, base.workerPid);
      case status.FAILED_PRECONDITION:
        return streamingMismatch(c.tool, true, base.workerPid);
      case status.RESOURCE_EXHAUSTED:
        if (d.errorType === 'PayloadTooLargeError') {
          return new ToolCallError(
            'ERR_PAYLOAD_TOO_LARGE',
            `the result of tool "${c.tool}" is larger than maxMessageBytes (${c.maxMessageBytes} bytes): ${d.message}; return less data, stream it in smaller items, or raise maxMessageBytes`,
            f,
          );
        }
        if (d.errorType === 'SharedMemoryFullError') {
          // The worker's message names where (/dev/shm or a memfd) and the limits to raise.
          return new ToolCallError(
            'ERR_SHM_FULL',
            `the result of tool "${c.tool}" found no room in shared memory: ${d.message}`,
            f,
          );
        }
        break;
      case status.DATA_LOSS:
        // Set by the host itself (lane-client.ts) for a result segment that is not what its frame
        // says: a worker that is buggy or hostile, not a transport fault.
        if (d.errorType === 'SharedMemoryError') {
          return new ToolCallError(
            'ERR_SHM_PAYLOAD_INVALID',
            `the result of tool "${c.tool}" came through shared memory and could not be taken: ${d.message}; the worker or its tool changed or replaced the segment it sent (only trellis_worker may create result segments, and a tool must not resize or close them)`,
            f,
          );
        }
        break;
      case status.DEADLINE_EXCEEDED:
        return new ToolCallError(
          'ERR_DEADLINE_EXCEEDED',
          `tool "${c.tool}" ran past its deadline (${d.errorType}: ${d.message}); give the call a larger timeoutMs or make the tool faster`,
          f,
        );
      case status.CANCELLED:
        return new ToolCallError(
          'ERR_CANCELLED',
          `tool "${c.tool}" gave up: ${d.errorType}: ${d.message}`,
          f,
        );
      default:
        break;
    }
    return new ToolCallError(
      'ERR_TOOL_FAILED',
      `tool "${c.tool}" raised ${d.errorType}: ${d.message} (the Python traceback is in error.traceback); fix the tool or the arguments that make it fail`,
      f,
    );
  }
  switch (err.code) {
    case status.DEADLINE_EXCEEDED:
      return new ToolCallError(
        'ERR_DEADLINE_EXCEEDED',
        `call to "${c.tool}" did not finish within its timeoutMs (${c.timeoutMs} ms); the tool was told to stop (ctx.cancelled). Raise timeoutMs or make the tool faster`,
        base,
      );
    case status.RESOURCE_EXHAUSTED:
      return new ToolCallError(
        'ERR_PAYLOAD_TOO_LARGE',
        `a message of the call to "${c.tool}" exceeds maxMessageBytes (${c.maxMessageBytes} bytes): ${err.details}; send or return less data, or raise maxMessageBytes`,
        base,
      );
    default:
      return TRANSPORT;
  }
}

/** The transport failed and the worker did not exit: it is draining or unreachable. */
export function unavailable(err: ServiceError, tool: string, workerPid: number | undefined): ToolCallError {
  const code = err.code === status.UNAVAILABLE ? 'ERR_WORKER_UNAVAILABLE' : 'ERR_TRANSPORT';
  const why =
    code === 'ERR_WORKER_UNAVAILABLE'
      ? 'the worker is shutting down or cannot be reached; retry the call (mark it idempotent to let the pool retry it once on another worker)'
      : 'an unexpected gRPC failure between host and worker; retry the call, and report it if it persists';
  return new ToolCallError(
    code,
    `call to "${tool}" failed: ${statusName(err.code)} ${err.details}; ${why}`,
    {
      tool,
      grpcStatus: statusName(err.code),
      workerPid,
    },
    err,
  );
}

/**
 * Whether a transport failure came after the call had reached its worker, so that its tool may
 * have run: the lane's socket closed under it, or gRPC's connection dropped (or was reset) while
 * the RPC was open. Any other UNAVAILABLE is a refusal before the tool ran: a draining worker's own
 * answer to a call it will not start (lane.py `_start`), a stream the server refused, a
 * connection that never came up.
 *
 * Why it matters: a draining worker's refusal may move even a call that is not idempotent, since
 * it never ran; a call cut when that worker's drain grace ran out did run, and must not run twice
 * (it once did, when the worker's exit came later than exitAttributionMs on a loaded host).
 */
export function mayHaveRun(err: unknown): boolean {
  const e = err as Partial<ServiceError> | undefined;
  if (e?.code !== status.UNAVAILABLE || typeof e.details !== 'string') return false;
  return (
    e.details === LANE_CLOSED_DETAILS ||
    e.details === 'Connection dropped' ||
    /\b(ECONNRESET|ETIMEDOUT|EPIPE)\b/.test(e.details)
  );
}

/**
 * How long a call whose transport broke waits for its worker's exit before it fails with
 * ERR_WORKER_UNAVAILABLE. Usually exitAttributionMs. A draining worker is being stopped by the
 * host itself, so its exit is certain and bounded (grace, then SIGTERM, then SIGKILL after
 * cancelGraceMs + killMarginMs): the call waits for it, and fails with the worker's real exit
 * reason however late the exit event arrives on a loaded host.
 */
export function exitWaitMs(rt: PoolRuntime, w: PoolWorker): number {
  if (w.state !== 'draining' || w.process.node !== undefined) return rt.o.exitAttributionMs;
  return rt.o.graceMs + BRIDGE_DEFAULTS.cancelGraceMs + BRIDGE_DEFAULTS.killMarginMs + rt.o.exitAttributionMs;
}

// ---- an attempt on a worker failed: what it means -----------------------------------------------

/**
 * The error of a failed RPC on `w`, or undefined when only the transport failed and the worker
 * has not been seen to exit: the caller then waits up to exitAttributionMs for the exit
 * (then `unavailable`), so that a dying worker still fails its calls with
 * ERR_WORKER_EXITED rather than a bare transport error.
 */
export function rpcFailure(
  c: FailingCall,
  err: ServiceError,
  w: PoolWorker,
  aborted: boolean,
): RpcFailure | undefined {
  const p = c.p;
  const mapped = mapCallError(err, {
    tool: p.tool,
    workerPid: w.pid,
    timeoutMs: p.timeoutMs,
    maxMessageBytes: c.rt.o.maxMessageBytes,
    aborted,
    abortReason: p.signal?.reason,
  });
  if (mapped !== TRANSPORT) {
    return {
      error: mapped,
      suspect: err.code === status.DEADLINE_EXCEEDED || err.code === status.CANCELLED,
    };
  }
  const exit = w.process.exit;
  if (exit !== undefined) return { error: workerExited(c, exit, w), suspect: false };
  return undefined;
}

/**
 * The error of a call whose worker's process exited under it. A worker the host killed for a
 * fault of its own says so: over its memory limit the call fails with ERR_WORKER_MEMORY_LIMIT
 * (and is not retried: it would take the next worker down too); after missed heartbeats with
 * ERR_WORKER_EXITED caused by ERR_HEARTBEAT_MISSED. Checked before `drained`: the actor's
 * terminate drains its PoolWorker while the kill's exit event is still on its way.
 */
export function workerExited(
  c: FailingCall,
  exit: WorkerExit,
  w: PoolWorker,
): WorkerExitedError | WorkerMemoryLimitError | NodeDownError | NodeUnreachableError {
  // The supervisor restarts the worker: the call's trace shows why it failed or moved.
  c.span?.span.addEvent('trellis.worker_exited', {
    'trellis.worker.pid': w.pid,
    'trellis.exit_code': exit.exitCode ?? -1,
    'trellis.signal': exit.signal ?? '',
  });
  // A worker lost with its node (issue 15): the node's error, retried only for an idempotent tool.
  if (exit.node !== undefined) return nodeLostError({ ...exit, node: exit.node }, c.p.tool, c.p.idempotent);
  const killed = w.process.killCause ?? memoryExitError(exit, w.process.maxRssMb, w.rssBytes);
  if (killed instanceof WorkerMemoryLimitError) return killed.forCall(c.p.tool);
  let why: string;
  if (killed !== undefined) {
    why = `the host killed it: ${killed.message}`;
    return new WorkerExitedError(exit, { tool: c.p.tool, why, cause: killed });
  }
  if (w.drained) {
    why = 'the worker was being shut down and the call did not finish within its drain grace (graceMs)';
  } else if (c.p.idempotent) {
    why = 'the call was idempotent but had already been retried once, or its budget ran out';
  } else {
    why =
      'the call was not retried because it is not idempotent (pass { idempotent: true } if running it twice is safe)';
  }
  return new WorkerExitedError(exit, { tool: c.p.tool, why });
}

/**
 * The workers a retry must not go to: the one that failed and, when its node was lost, every other
 * worker of that node (same node, same incarnation). Their exits may not be known yet when the
 * retry is dispatched (the node's workers die together, their exits arrive one by one), and an
 * idempotent call retried on a sibling of the dead worker would fail a second time: lost.
 */
export function retryExclusions(all: readonly PoolWorker[], w: PoolWorker, e: unknown): Set<number> {
  const lost = w.process.node;
  if (lost === undefined || !(e instanceof NodeDownError || e instanceof NodeUnreachableError))
    return new Set([w.id]);
  const same = all.filter(
    (x) => x.process.node?.node === lost.node && x.process.node.incarnation === lost.incarnation,
  );
  return new Set([w.id, ...same.map((x) => x.id)]);
}
