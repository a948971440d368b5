/**
 * Shared-memory segments for large payloads on the call lane (Payload.shm in common.proto): files in
 * /dev/shm named `trellis-shm.<run id>.<owner>.<n>`, the owner being `h<pid>` (this host) or
 * `w<pid>` (a worker). The name is the tracking, as a process's run marker is: the registry's sweep
 * removes the segments of a run whose host died (@trellis/registry, shm-sweep.ts), the host removes a
 * dead worker's, and the receiver of a payload removes its segment once it has read it.
 *
 * Why plain file writes and reads here, not a mapping: an argument that starts as a JS Buffer has to
 * be copied once into shared memory anyway, and `writeSync` of a tmpfs file is that one copy
 * (memcpy speed, no socket, no protobuf). Results are mapped when they can be (mapped-results.ts:
 * sealed memfds, not files here); a result segment in /dev/shm is read. The Python side maps the
 * file and makes no copy at all (trellis_worker/shm.py).
 *
 * Freeing a segment's pages is the slow part of removing it (20-50 ms for 100 MiB of tmpfs here),
 * and it happens when the last reference goes: so the name is removed on the calling thread, at
 * once (nothing to sweep if this host dies next), while this host still holds the file open, and
 * the descriptor is then closed asynchronously, on libuv's thread pool, which frees the pages off
 * the event loop. A result thus reaches its caller without waiting for its segment to be freed.
 */
import { close, closeSync, existsSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { getProcessTracker } from '@trellis/core';
import { readAll } from './mapped-results.js';

export const SHM_DIR = '/dev/shm';
export const SHM_NAME_PREFIX = 'trellis-shm.';

/** `trellis-shm.<run id>.`: this host's run, as recorded in the registry (or its untracked id). */
export function shmPrefix(): string {
  const runId = getProcessTracker()?.runId ?? `untracked-${process.pid}`;
  return `${SHM_NAME_PREFIX}${runId}.`;
}

/** True when /dev/shm exists (Linux): otherwise large payloads go through the socket. */
export function sharedMemoryAvailable(): boolean {
  return existsSync(SHM_DIR);
}

let seq = 0;
/** Descriptors of this host's segments still named (closed when the segment is removed). */
const open = new Map<string, number>();

/** Closes a segment's descriptor off the event loop (that frees its pages, if no one else maps it). */
function closeLater(fd: number): void {
  close(fd, () => {});
}

/** Writes `data` into a new segment of this host; returns its name. */
export function writeSegment(prefix: string, data: Uint8Array): string {
  const name = `${prefix}h${process.pid}.${++seq}`;
  const fd = openSync(join(SHM_DIR, name), 'wx', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  } catch (e) {
    closeSync(fd);
    removeSegment(name);
    throw e;
  }
  open.set(name, fd);
  return name;
}

/**
 * Reads a worker's segment into a new Buffer and removes it: the name first (nothing is left in
 * /dev/shm whatever happens next), then one read into a buffer of the exact size, and the pages
 * are freed off the event loop.
 */
export function takeSegment(name: string, size: number): Buffer {
  const fd = openSync(join(SHM_DIR, name), 'r');
  removeSegment(name);
  try {
    return readAll(fd, size, `shared-memory segment ${name}`);
  } finally {
    closeLater(fd);
  }
}

export function removeSegment(name: string): void {
  try {
    unlinkSync(join(SHM_DIR, name));
  } catch {
    // gone already
  }
  const fd = open.get(name);
  if (fd !== undefined) {
    open.delete(name);
    closeLater(fd);
  }
}

/** Removes every segment whose name starts with `prefix` (a dead worker's: `<run prefix>w<pid>.`). */
export function removeSegments(prefix: string): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(SHM_DIR);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (name.startsWith(prefix)) {
      removeSegment(name);
      n++;
    }
  }
  return n;
}

/** Segments of this host's run still in /dev/shm (tests and chaos check there are none left). */
export function listSegments(prefix: string = shmPrefix()): string[] {
  try {
    return readdirSync(SHM_DIR).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}
