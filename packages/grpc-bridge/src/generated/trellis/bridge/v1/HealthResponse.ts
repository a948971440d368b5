// Original file: protos/trellis/bridge/v1/tool_service.proto


// Original file: protos/trellis/bridge/v1/tool_service.proto

export const _trellis_bridge_v1_HealthResponse_Status = {
  STATUS_UNSPECIFIED: 'STATUS_UNSPECIFIED',
  /**
   * Accepting calls.
   */
  SERVING: 'SERVING',
  /**
   * SIGTERM received or host gone: finishing in-flight calls, refusing new ones.
   */
  DRAINING: 'DRAINING',
} as const;

export type _trellis_bridge_v1_HealthResponse_Status =
  | 'STATUS_UNSPECIFIED'
  | 0
  /**
   * Accepting calls.
   */
  | 'SERVING'
  | 1
  /**
   * SIGTERM received or host gone: finishing in-flight calls, refusing new ones.
   */
  | 'DRAINING'
  | 2

export type _trellis_bridge_v1_HealthResponse_Status__Output = typeof _trellis_bridge_v1_HealthResponse_Status[keyof typeof _trellis_bridge_v1_HealthResponse_Status]

export interface HealthResponse {
  'status'?: (_trellis_bridge_v1_HealthResponse_Status);
  /**
   * Always "trellis.bridge.v1".
   */
  'protocol'?: (string);
  /**
   * Version of the trellis_worker Python package.
   */
  'sdkVersion'?: (string);
  /**
   * The run id the worker was started with (--trellis-run-id).
   */
  'runId'?: (string);
  'pid'?: (number);
}

export interface HealthResponse__Output {
  'status': (_trellis_bridge_v1_HealthResponse_Status__Output);
  /**
   * Always "trellis.bridge.v1".
   */
  'protocol': (string);
  /**
   * Version of the trellis_worker Python package.
   */
  'sdkVersion': (string);
  /**
   * The run id the worker was started with (--trellis-run-id).
   */
  'runId': (string);
  'pid': (number);
}
