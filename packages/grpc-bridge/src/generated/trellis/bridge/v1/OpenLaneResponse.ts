// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface OpenLaneResponse {
  /**
   * Absolute path of the worker's lane socket; empty when the worker offers no lane (then the
   * host uses the unary RPCs).
   */
  'path'?: (string);
  /**
   * Random secret the host sends in its HELLO frame.
   */
  'token'?: (Buffer | Uint8Array | string);
  /**
   * The worker answers LANE_HEARTBEAT frames: the host sends its heartbeats over the lane (while
   * the lane is up) instead of the Heartbeat RPC.
   */
  'heartbeats'?: (boolean);
}

export interface OpenLaneResponse__Output {
  /**
   * Absolute path of the worker's lane socket; empty when the worker offers no lane (then the
   * host uses the unary RPCs).
   */
  'path': (string);
  /**
   * Random secret the host sends in its HELLO frame.
   */
  'token': (Buffer);
  /**
   * The worker answers LANE_HEARTBEAT frames: the host sends its heartbeats over the lane (while
   * the lane is up) instead of the Heartbeat RPC.
   */
  'heartbeats': (boolean);
}
