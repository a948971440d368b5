// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatRequest {
  /**
   * Chosen by the host; echoed back so replies can be matched to probes.
   */
  'seq'?: (number | string | Long);
}

export interface HeartbeatRequest__Output {
  /**
   * Chosen by the host; echoed back so replies can be matched to probes.
   */
  'seq': (number);
}
