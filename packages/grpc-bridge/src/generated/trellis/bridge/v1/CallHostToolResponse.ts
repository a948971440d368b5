// Original file: protos/trellis/bridge/v1/host_service.proto

import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from '../../../trellis/bridge/v1/Payload.js';

export interface CallHostToolResponse {
  'result'?: (_trellis_bridge_v1_Payload | null);
}

export interface CallHostToolResponse__Output {
  'result': (_trellis_bridge_v1_Payload__Output | null);
}
