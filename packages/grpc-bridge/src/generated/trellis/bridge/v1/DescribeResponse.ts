// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { ToolInfo as _trellis_bridge_v1_ToolInfo, ToolInfo__Output as _trellis_bridge_v1_ToolInfo__Output } from '../../../trellis/bridge/v1/ToolInfo.js';
import type { Long } from '@grpc/proto-loader';

export interface DescribeResponse {
  'tools'?: (_trellis_bridge_v1_ToolInfo)[];
  /**
   * Always "trellis.bridge.v1".
   */
  'protocol'?: (string);
  'sdkVersion'?: (string);
  /**
   * For example "3.11.7".
   */
  'pythonVersion'?: (string);
  'pid'?: (number);
  'runId'?: (string);
  /**
   * How many calls the worker runs at once (--concurrency).
   */
  'concurrency'?: (number);
  /**
   * Largest message the worker sends or receives (--max-message-bytes).
   */
  'maxMessageBytes'?: (number | string | Long);
}

export interface DescribeResponse__Output {
  'tools': (_trellis_bridge_v1_ToolInfo__Output)[];
  /**
   * Always "trellis.bridge.v1".
   */
  'protocol': (string);
  'sdkVersion': (string);
  /**
   * For example "3.11.7".
   */
  'pythonVersion': (string);
  'pid': (number);
  'runId': (string);
  /**
   * How many calls the worker runs at once (--concurrency).
   */
  'concurrency': (number);
  /**
   * Largest message the worker sends or receives (--max-message-bytes).
   */
  'maxMessageBytes': (number);
}
