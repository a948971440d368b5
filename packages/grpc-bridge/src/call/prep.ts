/**
 * What `pool.call` and `pool.stream` check before a call takes a worker: the tool exists and has
 * the right kind, the arguments encode, the payload fits the message limit, the options are sane.
 * Every refusal here costs no worker and no round trip.
 */

import { InvalidPoolOptionsError, ToolCallError } from '../errors.js';
import type { ExecuteRequest } from '../generated/trellis/bridge/v1/ExecuteRequest.js';
import { ArgsEncodingProblem, encodeArgs, type ToolArgs } from '../payload.js';
import type { CallOptions } from '../pool/options.js';
import type { PoolRuntime } from '../pool/runtime.js';
import type { ToolDescription } from '../worker/worker-handle.js';

/** Bytes an ExecuteRequest adds around its payload besides tool name, ids and metadata (tags, lengths). */
const ENVELOPE_BYTES = 64;

export interface PreparedCall {
  readonly tool: string;
  readonly callId: string;
  readonly request: ExecuteRequest;
  readonly payloadBytes: number;
  readonly timeoutMs: number;
  /** Monotonic deadline (clock.now() based); Infinity for none. */
  readonly deadline: number;
  readonly idempotent: boolean;
  readonly raw: boolean;
  readonly signal: AbortSignal | undefined;
  readonly sessionId: string | undefined;
  readonly description: ToolDescription | undefined;
}

export function prepareCall(
  rt: PoolRuntime,
  tool: string,
  args: ToolArgs,
  opts: CallOptions,
  streaming: boolean,
  t0: number,
  callId: string,
): PreparedCall {
  if (typeof tool !== 'string' || tool === '') {
    throw new ToolCallError(
      'ERR_TOOL_NOT_FOUND',
      `the tool name must be a non-empty string, got ${typeof tool}; pool.tools() lists the names`,
      {
        tool: String(tool),
        availableTools: rt.toolNames,
      },
    );
  }
  if (opts.signal?.aborted) {
    throw new ToolCallError(
      'ERR_CANCELLED',
      `call to "${tool}" was not started: its AbortSignal had already fired`,
      { tool },
      opts.signal.reason,
    );
  }
  const description = rt.tools.get(tool);
  if (description === undefined && rt.tools.size > 0) throw notFound(tool, rt.toolNames);
  if (!streaming && description?.streaming) throw streamingMismatch(tool, true);
  const timeoutMs = opts.timeoutMs ?? rt.o.callTimeoutMs;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidPoolOptionsError(
      `call option timeoutMs is ${String(timeoutMs)}; use a number of milliseconds > 0 (or Infinity)`,
      {
        field: 'timeoutMs',
      },
    );
  }
  const payload = encodeArgs(args);
  if (payload instanceof ArgsEncodingProblem) {
    throw new ToolCallError(
      'ERR_INVALID_ARGUMENT',
      `invalid arguments for tool "${tool}": ${payload.reason}`,
      { tool },
    );
  }
  const data = payload.data as Buffer;
  let metaBytes = 0;
  if (opts.metadata)
    for (const [k, v] of Object.entries(opts.metadata))
      metaBytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 8;
  const sessionId = opts.sessionId;
  const size =
    data.length + tool.length + callId.length + (sessionId?.length ?? 0) + metaBytes + ENVELOPE_BYTES;
  // Over the call lane, large arguments go through shared memory, under a limit of their own.
  const viaShm = rt.o.lane && data.length >= rt.o.shmThresholdBytes;
  if (viaShm && data.length > rt.o.maxShmBytes) {
    throw new ToolCallError(
      'ERR_PAYLOAD_TOO_LARGE',
      `the arguments of the call to "${tool}" are ${data.length} bytes, more than the pool's maxShmBytes (${rt.o.maxShmBytes} bytes, the limit of payloads sent through shared memory); send less data per call (split it, or pass a file path), or raise maxShmBytes`,
      { tool },
    );
  }
  if (!viaShm && size > rt.o.maxMessageBytes) {
    throw new ToolCallError(
      'ERR_PAYLOAD_TOO_LARGE',
      `the arguments of the call to "${tool}" are ${data.length} bytes, more than the pool's maxMessageBytes (${rt.o.maxMessageBytes} bytes with the request envelope); send less data per call (split it, or pass a file path), or raise maxMessageBytes`,
      { tool },
    );
  }
  const request: ExecuteRequest = { tool, payload, callId, idempotent: false };
  if (sessionId !== undefined) request.sessionId = sessionId;
  if (opts.metadata !== undefined) request.metadata = { ...opts.metadata };
  const idempotent = opts.idempotent ?? description?.idempotent ?? false;
  request.idempotent = idempotent;
  return {
    tool,
    callId,
    request,
    payloadBytes: data.length,
    timeoutMs,
    deadline: t0 + timeoutMs,
    idempotent,
    raw: opts.raw === true,
    signal: opts.signal,
    sessionId,
    description,
  };
}

// The refusals a worker can also give (NOT_FOUND, FAILED_PRECONDITION: errors.ts maps them here),
// so that a call refused before sending and one refused by the worker fail alike.

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
