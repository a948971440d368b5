// Original file: protos/trellis/bridge/v1/host_service.proto

import type { LogRecord as _trellis_bridge_v1_LogRecord, LogRecord__Output as _trellis_bridge_v1_LogRecord__Output } from '../../../trellis/bridge/v1/LogRecord.js';

export interface LogRequest {
  'records'?: (_trellis_bridge_v1_LogRecord)[];
  /**
   * PID of the worker that sends the batch.
   */
  'workerPid'?: (number);
  /**
   * Records the worker dropped since the previous batch because its buffer was full.
   */
  'dropped'?: (number);
}

export interface LogRequest__Output {
  'records': (_trellis_bridge_v1_LogRecord__Output)[];
  /**
   * PID of the worker that sends the batch.
   */
  'workerPid': (number);
  /**
   * Records the worker dropped since the previous batch because its buffer was full.
   */
  'dropped': (number);
}
