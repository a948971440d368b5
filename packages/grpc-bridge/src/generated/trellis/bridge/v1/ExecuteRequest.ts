// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from '../../../trellis/bridge/v1/Payload.js';
import type { Long } from '@grpc/proto-loader';

export interface ExecuteRequest {
  /**
   * Name of the tool to run.
   */
  'tool'?: (string);
  /**
   * Arguments: a JSON object, or raw bytes for the tool's bytes parameter (see Payload).
   */
  'payload'?: (_trellis_bridge_v1_Payload | null);
  /**
   * Identifies the call in logs, ToolContext.call_id and HostService requests; the worker makes
   * one up when empty.
   */
  'callId'?: (string);
  /**
   * Selects the per-session state (ToolContext.session); empty means a fresh, unkept state.
   */
  'sessionId'?: (string);
  /**
   * Informational copy of the call's deadline as Unix epoch milliseconds (0 = none). The gRPC
   * deadline of the RPC is the source of truth; this field is only used when the RPC has none.
   */
  'deadlineUnixMs'?: (number | string | Long);
  /**
   * The caller may retry this call after a failure (for example after a worker crash).
   */
  'idempotent'?: (boolean);
  /**
   * Free-form string metadata, visible to the tool as ToolContext.metadata.
   */
  'metadata'?: ({[key: string]: string});
}

export interface ExecuteRequest__Output {
  /**
   * Name of the tool to run.
   */
  'tool': (string);
  /**
   * Arguments: a JSON object, or raw bytes for the tool's bytes parameter (see Payload).
   */
  'payload': (_trellis_bridge_v1_Payload__Output | null);
  /**
   * Identifies the call in logs, ToolContext.call_id and HostService requests; the worker makes
   * one up when empty.
   */
  'callId': (string);
  /**
   * Selects the per-session state (ToolContext.session); empty means a fresh, unkept state.
   */
  'sessionId': (string);
  /**
   * Informational copy of the call's deadline as Unix epoch milliseconds (0 = none). The gRPC
   * deadline of the RPC is the source of truth; this field is only used when the RPC has none.
   */
  'deadlineUnixMs': (number);
  /**
   * The caller may retry this call after a failure (for example after a worker crash).
   */
  'idempotent': (boolean);
  /**
   * Free-form string metadata, visible to the tool as ToolContext.metadata.
   */
  'metadata': ({[key: string]: string});
}
