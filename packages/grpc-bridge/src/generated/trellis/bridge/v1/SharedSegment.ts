// Original file: protos/trellis/bridge/v1/common.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A file in /dev/shm holding a payload's bytes. Names are "trellis-shm.<run id>.<owner>.<n>", the
 * owner being "h<pid>" for the host or "w<pid>" for a worker, so the registry's sweep removes the
 * segments of a run whose host died, and the host those of a worker that died.
 */
export interface SharedSegment {
  /**
   * File name in /dev/shm (no directory).
   */
  'name'?: (string);
  /**
   * Bytes of the payload (the file's size).
   */
  'size'?: (number | string | Long);
}

/**
 * A file in /dev/shm holding a payload's bytes. Names are "trellis-shm.<run id>.<owner>.<n>", the
 * owner being "h<pid>" for the host or "w<pid>" for a worker, so the registry's sweep removes the
 * segments of a run whose host died, and the host those of a worker that died.
 */
export interface SharedSegment__Output {
  /**
   * File name in /dev/shm (no directory).
   */
  'name': (string);
  /**
   * Bytes of the payload (the file's size).
   */
  'size': (number);
}
