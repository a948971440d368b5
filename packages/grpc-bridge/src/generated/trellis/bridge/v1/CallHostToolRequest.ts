// Original file: protos/trellis/bridge/v1/host_service.proto

import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from '../../../trellis/bridge/v1/Payload.js';

export interface CallHostToolRequest {
  /**
   * Name of the host tool.
   */
  'tool'?: (string);
  /**
   * Arguments, encoded like ExecuteRequest.payload.
   */
  'payload'?: (_trellis_bridge_v1_Payload | null);
  /**
   * Session of the Python call that makes this request.
   */
  'sessionId'?: (string);
  /**
   * call_id of the Python call that makes this request (ExecuteRequest.call_id).
   */
  'callId'?: (string);
  /**
   * PID of the calling worker.
   */
  'workerPid'?: (number);
}

export interface CallHostToolRequest__Output {
  /**
   * Name of the host tool.
   */
  'tool': (string);
  /**
   * Arguments, encoded like ExecuteRequest.payload.
   */
  'payload': (_trellis_bridge_v1_Payload__Output | null);
  /**
   * Session of the Python call that makes this request.
   */
  'sessionId': (string);
  /**
   * call_id of the Python call that makes this request (ExecuteRequest.call_id).
   */
  'callId': (string);
  /**
   * PID of the calling worker.
   */
  'workerPid': (number);
}
