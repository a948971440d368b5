// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from '../../../trellis/bridge/v1/Payload.js';
import type { ToolTelemetry as _trellis_bridge_v1_ToolTelemetry, ToolTelemetry__Output as _trellis_bridge_v1_ToolTelemetry__Output } from '../../../trellis/bridge/v1/ToolTelemetry.js';
import type { Long } from '@grpc/proto-loader';

export interface ExecuteStreamResponse {
  /**
   * One item the tool yielded, encoded like ExecuteResponse.result.
   */
  'item'?: (_trellis_bridge_v1_Payload | null);
  /**
   * 0-based position of this item in the stream.
   */
  'index'?: (number | string | Long);
  /**
   * What the tool recorded with ctx.metric / ctx.span since the previous item.
   */
  'telemetry'?: (_trellis_bridge_v1_ToolTelemetry | null);
}

export interface ExecuteStreamResponse__Output {
  /**
   * One item the tool yielded, encoded like ExecuteResponse.result.
   */
  'item': (_trellis_bridge_v1_Payload__Output | null);
  /**
   * 0-based position of this item in the stream.
   */
  'index': (number);
  /**
   * What the tool recorded with ctx.metric / ctx.span since the previous item.
   */
  'telemetry': (_trellis_bridge_v1_ToolTelemetry__Output | null);
}
