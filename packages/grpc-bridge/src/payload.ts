/**
 * Payloads: every value crossing the bridge is bytes plus a content type.
 *
 * Arguments: a plain object is JSON (`application/json`); a Buffer or Uint8Array is raw bytes
 * (`application/octet-stream`) handed to the tool's one `bytes` parameter untouched, with no copy,
 * no base64 and no pickle; a `ToolPayload` carries bytes with a content type of the caller's choice.
 * An apache-arrow Table or RecordBatch is one Arrow IPC stream (arrow.ts).
 * Results: JSON is parsed; an Arrow IPC stream comes back as an apache-arrow Table; any other
 * content type comes back as a Buffer (or, with `raw: true`, as a ToolPayload that also says its
 * content type).
 */
import { ARROW_TYPE, type ArrowTableLike, arrowFromIPC, arrowToIPC, isArrowTable } from './arrow.js';
import type { Payload, Payload__Output } from './generated/trellis/bridge/v1/Payload.js';

export const JSON_TYPE = 'application/json';
export const BYTES_TYPE = 'application/octet-stream';

/** Bytes with a content type, as arguments or as a raw result. */
export class ToolPayload {
  readonly data: Buffer;
  readonly contentType: string;
  constructor(data: Uint8Array, contentType: string = BYTES_TYPE) {
    this.data = asBuffer(data);
    this.contentType = contentType;
  }
}

/** Arguments a tool accepts: named JSON arguments, raw bytes, a labelled payload, or an Arrow table. */
export type ToolArgs = Record<string, unknown> | Uint8Array | ToolPayload | ArrowTableLike | undefined;

/** A Buffer view of the same memory (no copy). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

const EMPTY = Buffer.alloc(0);

/** Why arguments could not be encoded; the caller turns it into ERR_INVALID_ARGUMENT. */
export class ArgsEncodingProblem {
  constructor(readonly reason: string) {}
}

/** Encodes call arguments; returns an ArgsEncodingProblem instead of throwing (hot path). */
export function encodeArgs(args: ToolArgs): Payload | ArgsEncodingProblem {
  if (args === undefined || args === null) return { data: EMPTY, contentType: JSON_TYPE };
  if (args instanceof ToolPayload) return { data: args.data, contentType: args.contentType };
  if (args instanceof Uint8Array) return { data: asBuffer(args), contentType: BYTES_TYPE };
  if (typeof args === 'object' && !Array.isArray(args) && isArrowTable(args)) {
    try {
      return { data: asBuffer(arrowToIPC(args)), contentType: ARROW_TYPE };
    } catch (e) {
      return new ArgsEncodingProblem(`an Arrow table cannot be encoded: ${(e as Error).message}`);
    }
  }
  if (typeof args !== 'object' || Array.isArray(args)) {
    const got = Array.isArray(args) ? 'an array' : typeof args;
    return new ArgsEncodingProblem(
      `arguments must be an object mapping parameter names to values (or a Buffer for a tool with one bytes parameter), got ${got}`,
    );
  }
  let text: string;
  try {
    text = JSON.stringify(args);
  } catch (e) {
    return new ArgsEncodingProblem(`arguments cannot be encoded as JSON: ${(e as Error).message}`);
  }
  return { data: Buffer.from(text, 'utf8'), contentType: JSON_TYPE };
}

/**
 * Decodes a result or stream item by its content type. Throws ArrowMissingError for an Arrow
 * table when apache-arrow is not installed, SyntaxError for JSON that does not parse.
 */
export function decodePayload(p: Payload__Output | null | undefined, raw: boolean, tool?: string): unknown {
  if (!p) return raw ? new ToolPayload(EMPTY, JSON_TYPE) : null;
  const type = p.contentType || JSON_TYPE;
  if (raw) return new ToolPayload(p.data, type);
  if (type === JSON_TYPE || type.startsWith(`${JSON_TYPE};`)) {
    return p.data.length === 0 ? null : JSON.parse(p.data.toString('utf8'));
  }
  if (type === ARROW_TYPE) return arrowFromIPC(p.data, tool);
  return p.data;
}
