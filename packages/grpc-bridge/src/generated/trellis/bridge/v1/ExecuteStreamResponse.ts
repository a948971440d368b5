// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from '../../../trellis/bridge/v1/Payload.js';
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
}
