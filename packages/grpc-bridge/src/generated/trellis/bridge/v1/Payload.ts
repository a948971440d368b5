// Original file: protos/trellis/bridge/v1/common.proto

import type { SharedSegment as _trellis_bridge_v1_SharedSegment, SharedSegment__Output as _trellis_bridge_v1_SharedSegment__Output } from '../../../trellis/bridge/v1/SharedSegment.js';

/**
 * A value crossing the bridge: arguments of a call, the result of a call, one item of a stream.
 * 
 * `data` holds the encoded value and `content_type` says how to read it:
 * - "application/json" (also assumed when `content_type` is empty): `data` is UTF-8 JSON. For a
 * tool call's arguments it is one JSON object mapping parameter names to values; empty `data`
 * means "no arguments" ({}).
 * - "application/octet-stream": `data` is raw bytes, passed through untouched (no base64, no
 * pickle). As call arguments, the bytes go to the tool's one `bytes` parameter (named by
 * ToolInfo.raw_bytes_parameter); as a result, the tool returned `bytes`.
 * - any other type: opaque bytes a tool chose to label itself (for example "image/png").
 */
export interface Payload {
  'data'?: (Buffer | Uint8Array | string);
  'contentType'?: (string);
  /**
   * Set instead of `data` for a large payload on the call lane (lane.proto): the bytes are in a
   * shared-memory file that the receiver maps instead of copying them through the socket. The
   * receiver removes the file once it has the payload.
   */
  'shm'?: (_trellis_bridge_v1_SharedSegment | null);
}

/**
 * A value crossing the bridge: arguments of a call, the result of a call, one item of a stream.
 * 
 * `data` holds the encoded value and `content_type` says how to read it:
 * - "application/json" (also assumed when `content_type` is empty): `data` is UTF-8 JSON. For a
 * tool call's arguments it is one JSON object mapping parameter names to values; empty `data`
 * means "no arguments" ({}).
 * - "application/octet-stream": `data` is raw bytes, passed through untouched (no base64, no
 * pickle). As call arguments, the bytes go to the tool's one `bytes` parameter (named by
 * ToolInfo.raw_bytes_parameter); as a result, the tool returned `bytes`.
 * - any other type: opaque bytes a tool chose to label itself (for example "image/png").
 */
export interface Payload__Output {
  'data': (Buffer);
  'contentType': (string);
  /**
   * Set instead of `data` for a large payload on the call lane (lane.proto): the bytes are in a
   * shared-memory file that the receiver maps instead of copying them through the socket. The
   * receiver removes the file once it has the payload.
   */
  'shm': (_trellis_bridge_v1_SharedSegment__Output | null);
}
