// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { Long } from '@grpc/proto-loader';

export interface WorkerStats {
  'pid'?: (number);
  /**
   * Resident set size of the Python process itself (from /proc/self/statm), in bytes.
   */
  'rssBytes'?: (number | string | Long);
  /**
   * Tool calls (RPCs) running or waiting for a slot right now.
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
  /**
   * Abandoned executions: tools still holding a concurrency slot although their call is over (it
   * was cancelled or its deadline passed), such as a sync tool that ignores cancellation (Python
   * threads cannot be stopped). Each one is a slot the worker cannot use; the host counts them as
   * load and recycles a worker whose abandoned executions persist or take every slot.
   */
  'abandoned'?: (number);
}

export interface WorkerStats__Output {
  'pid': (number);
  /**
   * Resident set size of the Python process itself (from /proc/self/statm), in bytes.
   */
  'rssBytes': (number);
  /**
   * Tool calls (RPCs) running or waiting for a slot right now.
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
  /**
   * Abandoned executions: tools still holding a concurrency slot although their call is over (it
   * was cancelled or its deadline passed), such as a sync tool that ignores cancellation (Python
   * threads cannot be stopped). Each one is a slot the worker cannot use; the host counts them as
   * load and recycles a worker whose abandoned executions persist or take every slot.
   */
  'abandoned': (number);
}
