// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Long } from '@grpc/proto-loader';

/**
 * OpenLane: see lane.proto for the lane itself.
 */
export interface OpenLaneRequest {
  /**
   * Shared-memory payloads (Payload.shm) on this lane: the names the worker must give its segments
   * start with this prefix ("trellis-shm.<run id>."; empty: no shared memory on this lane).
   */
  'shmPrefix'?: (string);
  /**
   * Payloads of at least this many bytes go through shared memory.
   */
  'shmThresholdBytes'?: (number | string | Long);
  /**
   * The largest shared-memory payload either side may send.
   */
  'maxShmBytes'?: (number | string | Long);
  /**
   * The host answers host tool calls (LANE_HOST_CALL) on this lane: the worker's tools call host
   * tools over it instead of the HostService RPC.
   */
  'hostCalls'?: (boolean);
  /**
   * The host maps large results (SharedSegment.fd): the worker sends them as sealed memfds instead
   * of files in /dev/shm, and closes each one when the host's LANE_RELEASE names it.
   */
  'memfdResults'?: (boolean);
}

/**
 * OpenLane: see lane.proto for the lane itself.
 */
export interface OpenLaneRequest__Output {
  /**
   * Shared-memory payloads (Payload.shm) on this lane: the names the worker must give its segments
   * start with this prefix ("trellis-shm.<run id>."; empty: no shared memory on this lane).
   */
  'shmPrefix': (string);
  /**
   * Payloads of at least this many bytes go through shared memory.
   */
  'shmThresholdBytes': (number);
  /**
   * The largest shared-memory payload either side may send.
   */
  'maxShmBytes': (number);
  /**
   * The host answers host tool calls (LANE_HOST_CALL) on this lane: the worker's tools call host
   * tools over it instead of the HostService RPC.
   */
  'hostCalls': (boolean);
  /**
   * The host maps large results (SharedSegment.fd): the worker sends them as sealed memfds instead
   * of files in /dev/shm, and closes each one when the host's LANE_RELEASE names it.
   */
  'memfdResults': (boolean);
}
