// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from '../../../trellis/bridge/v1/Payload.js';
import type { ToolTelemetry as _trellis_bridge_v1_ToolTelemetry, ToolTelemetry__Output as _trellis_bridge_v1_ToolTelemetry__Output } from '../../../trellis/bridge/v1/ToolTelemetry.js';
import type { Long } from '@grpc/proto-loader';

export interface ExecuteResponse {
  /**
   * The tool's return value: JSON, or raw bytes when the tool returned bytes.
   */
  'result'?: (_trellis_bridge_v1_Payload | null);
  /**
   * Time the tool itself ran (excluding queueing in the worker), in microseconds.
   */
  'durationUs'?: (number | string | Long);
  /**
   * What the tool recorded with ctx.metric / ctx.span; absent when it recorded nothing.
   */
  'telemetry'?: (_trellis_bridge_v1_ToolTelemetry | null);
}

export interface ExecuteResponse__Output {
  /**
   * The tool's return value: JSON, or raw bytes when the tool returned bytes.
   */
  'result': (_trellis_bridge_v1_Payload__Output | null);
  /**
   * Time the tool itself ran (excluding queueing in the worker), in microseconds.
   */
  'durationUs': (number);
  /**
   * What the tool recorded with ctx.metric / ctx.span; absent when it recorded nothing.
   */
  'telemetry': (_trellis_bridge_v1_ToolTelemetry__Output | null);
}
