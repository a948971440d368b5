/**
 * Turning a failed gRPC call into a ToolCallError with a stable code.
 *
 * A failure the worker reported carries an ErrorDetail (Python type, message, traceback, field
 * path, available tools) in the `trellis-error-bin` trailer; its status code picks the Trellis code.
 * A failure without the trailer came from gRPC itself: our own deadline or cancel, a request over
 * a message limit, or the transport (the connection dropped). Transport failures are returned as
 * TRANSPORT so the caller can find out whether the worker process died (ERR_WORKER_EXITED).
 */
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { ToolCallError, type ToolCallFailure } from '../errors.js';
import { decodeErrorDetail } from '../protos.js';

export const TRANSPORT = Symbol('transport');

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

export function notFound(tool: string, available: readonly string[], workerPid?: number): ToolCallError {
  const list = available.length > 0 ? available.join(', ') : '(none)';
  return new ToolCallError(
    'ERR_TOOL_NOT_FOUND',
    `no tool named "${tool}"; the pool's workers serve: ${list}. Check the name, or add a @tool function of that name to the tools module`,
    { tool, grpcStatus: 'NOT_FOUND', availableTools: [...available], workerPid },
  );
}

export function streamingMismatch(tool: string, isStreaming: boolean, workerPid?: number): ToolCallError {
  return new ToolCallError(
    'ERR_STREAMING_MISMATCH',
    isStreaming
      ? `tool "${tool}" is a streaming (generator) tool; call it with pool.stream("${tool}", args) and iterate the result`
      : `tool "${tool}" is not a streaming tool`,
    { tool, grpcStatus: 'FAILED_PRECONDITION', workerPid },
  );
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
