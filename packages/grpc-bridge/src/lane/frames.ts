/**
 * The call lane's wire format (protos/trellis/bridge/v1/lane.proto, which is the source of truth):
 * typed here in one place for the host side. A frame is
 *
 *   uint32 LE length of what follows | uint8 kind | uint32 LE call id | body
 *
 * and bodies are the protobuf messages of lane.proto / tool_service.proto, encoded with protobufjs
 * from the same .proto files grpc-js loads. The frame kinds mirror `LaneFrameKind` (a test checks
 * they match the .proto, since proto-loader generates no types for a file without a service).
 */
import { resolve } from 'node:path';
import protobuf from 'protobufjs';
import type { CallHostToolRequest__Output } from '../generated/trellis/bridge/v1/CallHostToolRequest.js';
import type { CallHostToolResponse } from '../generated/trellis/bridge/v1/CallHostToolResponse.js';
import type { ErrorDetail__Output } from '../generated/trellis/bridge/v1/ErrorDetail.js';
import type { ExecuteRequest } from '../generated/trellis/bridge/v1/ExecuteRequest.js';
import type { HeartbeatResponse__Output } from '../generated/trellis/bridge/v1/HeartbeatResponse.js';
import type { Payload__Output } from '../generated/trellis/bridge/v1/Payload.js';
import type { ToolTelemetry__Output } from '../generated/trellis/bridge/v1/ToolTelemetry.js';
import { findProtoRoot } from '../protos.js';

export const FrameKind = {
  HELLO: 1,
  CALL: 2,
  CANCEL: 3,
  CREDIT: 4,
  RESULT: 5,
  ITEM: 6,
  END: 7,
  ERROR: 8,
  HOST_CALL: 9,
  HOST_CANCEL: 10,
  HOST_RESULT: 11,
  HOST_ERROR: 12,
  HEARTBEAT: 13,
  HEARTBEAT_ACK: 14,
  RELEASE: 15,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Length prefix + kind + call id. */
export const HEADER_BYTES = 9;

/** A LaneCall as sent (lane.proto). */
export interface LaneCall {
  readonly request: ExecuteRequest;
  /** Milliseconds left (0: no deadline). */
  readonly timeoutMs: number;
  readonly stream: boolean;
  readonly credit: number;
  /** The W3C trace context of a traced call. */
  readonly headers?: Record<string, string>;
}

/** A decoded frame from the worker. */
export type WorkerFrame =
  | {
      readonly kind: typeof FrameKind.RESULT;
      readonly id: number;
      readonly result: Payload__Output | null;
      readonly telemetry: ToolTelemetry__Output | null;
    }
  | {
      readonly kind: typeof FrameKind.ITEM;
      readonly id: number;
      readonly item: Payload__Output | null;
      readonly index: number;
      readonly telemetry: ToolTelemetry__Output | null;
    }
  | { readonly kind: typeof FrameKind.END; readonly id: number }
  | {
      readonly kind: typeof FrameKind.ERROR;
      readonly id: number;
      readonly code: number;
      /** The ErrorDetail as bytes (as it would be in the `trellis-error-bin` trailer), if any. */
      readonly detail: Buffer | undefined;
    }
  | {
      readonly kind: typeof FrameKind.HOST_CALL;
      readonly id: number;
      readonly request: CallHostToolRequest__Output;
      /** 0: no deadline. */
      readonly timeoutMs: number;
    }
  | { readonly kind: typeof FrameKind.HOST_CANCEL; readonly id: number }
  | {
      readonly kind: typeof FrameKind.HEARTBEAT_ACK;
      readonly id: number;
      readonly response: HeartbeatResponse__Output;
    };

interface Types {
  readonly laneCall: protobuf.Type;
  readonly laneError: protobuf.Type;
  readonly executeResponse: protobuf.Type;
  readonly executeStreamResponse: protobuf.Type;
  readonly errorDetail: protobuf.Type;
  readonly toolTelemetry: protobuf.Type;
  readonly laneHostCall: protobuf.Type;
  readonly callHostToolResponse: protobuf.Type;
  readonly heartbeatRequest: protobuf.Type;
  readonly heartbeatResponse: protobuf.Type;
  readonly kinds: Record<string, number>;
}

let types: Types | undefined;

function load(): Types {
  if (types) return types;
  const root = findProtoRoot();
  const pb = new protobuf.Root();
  pb.resolvePath = (_origin, target) => (target.startsWith('/') ? target : resolve(root, target));
  pb.loadSync('trellis/bridge/v1/lane.proto', { keepCase: false });
  types = {
    laneCall: pb.lookupType('trellis.bridge.v1.LaneCall'),
    laneError: pb.lookupType('trellis.bridge.v1.LaneError'),
    executeResponse: pb.lookupType('trellis.bridge.v1.ExecuteResponse'),
    executeStreamResponse: pb.lookupType('trellis.bridge.v1.ExecuteStreamResponse'),
    errorDetail: pb.lookupType('trellis.bridge.v1.ErrorDetail'),
    toolTelemetry: pb.lookupType('trellis.bridge.v1.ToolTelemetry'),
    laneHostCall: pb.lookupType('trellis.bridge.v1.LaneHostCall'),
    callHostToolResponse: pb.lookupType('trellis.bridge.v1.CallHostToolResponse'),
    heartbeatRequest: pb.lookupType('trellis.bridge.v1.HeartbeatRequest'),
    heartbeatResponse: pb.lookupType('trellis.bridge.v1.HeartbeatResponse'),
    kinds: pb.lookupEnum('trellis.bridge.v1.LaneFrameKind').values,
  };
  return types;
}

/** LaneFrameKind as the .proto defines it (for the test that keeps FrameKind true). */
export function protoFrameKinds(): Record<string, number> {
  return load().kinds;
}

function frame(kind: FrameKind, id: number, body: Uint8Array | undefined): Buffer {
  const n = body?.length ?? 0;
  const out = Buffer.allocUnsafe(HEADER_BYTES + n);
  out.writeUInt32LE(5 + n, 0);
  out[4] = kind;
  out.writeUInt32LE(id, 5);
  if (body !== undefined && n > 0) out.set(body, HEADER_BYTES);
  return out;
}

export function helloFrame(token: Uint8Array): Buffer {
  return frame(FrameKind.HELLO, 0, token);
}

export function callFrame(id: number, call: LaneCall): Buffer {
  const t = load().laneCall;
  return frame(FrameKind.CALL, id, t.encode(call as unknown as protobuf.Message).finish());
}

export function cancelFrame(id: number): Buffer {
  return frame(FrameKind.CANCEL, id, undefined);
}

/** ToolService.Heartbeat's request, over the lane (a worker that said `heartbeats` answers it). */
export function heartbeatFrame(id: number, seq: number): Buffer {
  const t = load().heartbeatRequest;
  return frame(FrameKind.HEARTBEAT, id, t.encode({ seq } as unknown as protobuf.Message).finish());
}

/** The host has opened the worker's result memfd `fd` (SharedSegment.fd): the worker closes it. */
export function releaseFrame(fd: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(fd, 0);
  return frame(FrameKind.RELEASE, 0, b);
}

export function creditFrame(id: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n, 0);
  return frame(FrameKind.CREDIT, id, b);
}

/** Decodes one worker frame's body; undefined for a kind this host does not know (ignored). */
export function decodeWorkerFrame(kind: number, id: number, body: Buffer): WorkerFrame | undefined {
  const t = load();
  switch (kind) {
    case FrameKind.RESULT: {
      const m = t.executeResponse.decode(body) as unknown as {
        result: Payload__Output | null;
        telemetry: protobuf.Message | null;
      };
      return { kind, id, result: m.result, telemetry: telemetryOf(t, m.telemetry) };
    }
    case FrameKind.ITEM: {
      const m = t.executeStreamResponse.decode(body) as unknown as {
        item: Payload__Output | null;
        index: number | { toNumber(): number };
        telemetry: protobuf.Message | null;
      };
      const index = typeof m.index === 'number' ? m.index : m.index.toNumber();
      return { kind, id, item: m.item, index, telemetry: telemetryOf(t, m.telemetry) };
    }
    case FrameKind.END:
      return { kind, id };
    case FrameKind.ERROR: {
      const m = t.laneError.decode(body) as unknown as { code: number; detail: ErrorDetail__Output | null };
      const detail = m.detail
        ? Buffer.from(t.errorDetail.encode(m.detail as unknown as protobuf.Message).finish())
        : undefined;
      return { kind, id, code: m.code, detail };
    }
    case FrameKind.HOST_CALL: {
      const m = t.laneHostCall.toObject(t.laneHostCall.decode(body), {
        defaults: true,
        longs: Number,
        enums: String,
        arrays: true,
      }) as { request: CallHostToolRequest__Output; timeoutMs: number };
      return { kind, id, request: m.request, timeoutMs: m.timeoutMs };
    }
    case FrameKind.HOST_CANCEL:
      return { kind, id };
    case FrameKind.HEARTBEAT_ACK: {
      const m = t.heartbeatResponse.decode(body);
      const response = t.heartbeatResponse.toObject(m, {
        defaults: true,
        longs: Number,
        enums: String,
        objects: true,
      }) as HeartbeatResponse__Output;
      return { kind, id, response };
    }
    default:
      return undefined;
  }
}

export function hostResultFrame(id: number, res: CallHostToolResponse): Buffer {
  const t = load().callHostToolResponse;
  return frame(FrameKind.HOST_RESULT, id, t.encode(res as unknown as protobuf.Message).finish());
}

/** A failed host call: its gRPC status code and the ErrorDetail bytes of its trailer. */
export function hostErrorFrame(id: number, code: number, detail: Buffer | undefined): Buffer {
  const t = load();
  const body: Record<string, unknown> = { code };
  if (detail !== undefined) body.detail = t.errorDetail.decode(detail);
  return frame(FrameKind.HOST_ERROR, id, t.laneError.encode(body as unknown as protobuf.Message).finish());
}

/** A tool's telemetry as the gRPC path hands it out (proto-loader's options), when it sent any. */
function telemetryOf(t: Types, m: protobuf.Message | null): ToolTelemetry__Output | null {
  if (!m) return null;
  return t.toolTelemetry.toObject(m, {
    defaults: true,
    arrays: true,
    objects: true,
    longs: Number,
    enums: String,
  }) as ToolTelemetry__Output;
}

/**
 * Splits a byte stream into frames. A chunk holding many whole frames (the worker batches its
 * writes) is parsed without copying them; a frame split over many chunks (a large result) is
 * joined once, when its last byte has arrived, not once per chunk.
 */
export class FrameReader {
  #parts: Buffer[] = [];
  #size = 0;
  /** Bytes the pending parts must reach before parsing is worth trying again. */
  #need = 0;

  constructor(private readonly onFrame: (kind: number, id: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#parts.length > 0) {
      this.#parts.push(chunk);
      this.#size += chunk.length;
      if (this.#size < this.#need) return;
      buf = Buffer.concat(this.#parts, this.#size);
      this.#parts = [];
      this.#size = 0;
    }
    let pos = 0;
    while (buf.length - pos >= HEADER_BYTES) {
      const end = pos + 4 + buf.readUInt32LE(pos);
      if (end > buf.length) break;
      this.onFrame(buf[pos + 4]!, buf.readUInt32LE(pos + 5), buf.subarray(pos + HEADER_BYTES, end));
      pos = end;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.#parts = [rest];
      this.#size = rest.length;
      this.#need = rest.length >= 4 ? 4 + rest.readUInt32LE(0) : HEADER_BYTES;
    }
  }
}
