// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Long } from '@grpc/proto-loader';

export interface WorkerStats {
  'pid'?: (number);
  /**
   * Resident set size of the Python process itself (from /proc/self/statm), in bytes.
   */
  'rssBytes'?: (number | string | Long);
  /**
   * Tool calls running or waiting for a slot right now, and tool executions still running (sync tools whose call was cancelled or timed out but
   * whose thread has not returned); the host uses this to notice a wedged worker.
   */
  'inFlight'?: (number);
  /**
   * Tool calls finished since start, successful or not.
   */
  'callsServed'?: (number | string | Long);
  /**
   * Tool calls that ended with a non-OK status since start.
   */
  'callsFailed'?: (number | string | Long);
  /**
   * Sessions with kept state.
   */
  'sessions'?: (number);
  /**
   * Milliseconds since the worker started.
   */
  'uptimeMs'?: (number | string | Long);
}

export interface WorkerStats__Output {
  'pid': (number);
  /**
   * Resident set size of the Python process itself (from /proc/self/statm), in bytes.
   */
  'rssBytes': (number);
  /**
   * Tool calls running or waiting for a slot right now, and tool executions still running (sync tools whose call was cancelled or timed out but
   * whose thread has not returned); the host uses this to notice a wedged worker.
   */
  'inFlight': (number);
  /**
   * Tool calls finished since start, successful or not.
   */
  'callsServed': (number);
  /**
   * Tool calls that ended with a non-OK status since start.
   */
  'callsFailed': (number);
  /**
   * Sessions with kept state.
   */
  'sessions': (number);
  /**
   * Milliseconds since the worker started.
   */
  'uptimeMs': (number);
}
