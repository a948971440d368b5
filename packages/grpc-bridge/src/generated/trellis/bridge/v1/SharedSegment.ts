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
  /**
   * Set (non-zero) instead of `name` for a worker's result on a lane opened with `memfd_results`:
   * the worker's descriptor of a memfd holding the bytes, sealed against shrinking and growing
   * (F_SEAL_SHRINK | F_SEAL_GROW). The host opens /proc/<worker pid>/fd/<fd>, maps it copy-on-write
   * only if those seals are set (otherwise reads it), and then sends LANE_RELEASE with the fd, upon
   * which the worker closes it. A memfd has no name in /dev/shm: nothing is left to sweep if either
   * side dies.
   */
  'fd'?: (number);
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
  /**
   * Set (non-zero) instead of `name` for a worker's result on a lane opened with `memfd_results`:
   * the worker's descriptor of a memfd holding the bytes, sealed against shrinking and growing
   * (F_SEAL_SHRINK | F_SEAL_GROW). The host opens /proc/<worker pid>/fd/<fd>, maps it copy-on-write
   * only if those seals are set (otherwise reads it), and then sends LANE_RELEASE with the fd, upon
   * which the worker closes it. A memfd has no name in /dev/shm: nothing is left to sweep if either
   * side dies.
   */
  'fd': (number);
}
