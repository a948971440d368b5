// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { WorkerStats as _trellis_bridge_v1_WorkerStats, WorkerStats__Output as _trellis_bridge_v1_WorkerStats__Output } from '../../../trellis/bridge/v1/WorkerStats.js';
import type { Long } from '@grpc/proto-loader';

export interface HeartbeatResponse {
  'seq'?: (number | string | Long);
  'stats'?: (_trellis_bridge_v1_WorkerStats | null);
}

export interface HeartbeatResponse__Output {
  'seq': (number);
  'stats': (_trellis_bridge_v1_WorkerStats__Output | null);
}
