/**
 * Results mapped into the host: a worker's large result comes as a sealed memfd
 * (SharedSegment.fd), and the Buffer the caller gets is a copy-on-write mapping of it, instead of a
 * new Buffer the bytes are read into (segments.ts). Reading costs a second page-allocation pass and
 * a second copy of every byte; mapping costs one `mmap` call, and the pages the worker filled are
 * the ones the caller reads (docs/benchmarks.md, "The 100 MiB result").
 *
 * The mapping is made by this package's own Node-API addon (native/trellis_mmap.c, built by
 * scripts/build-native.mjs into dist/native/ and shipped in the tarball; its header says why no
 * npm package or FFI does it). It returns an external ArrayBuffer whose *backing store* owns the
 * mapping: Node.js calls the addon's finalizer when the backing store is freed, after
 * `ArrayBuffer.prototype.transfer()` or a postMessage transfer too, and the finalizer unmaps off
 * the event loop and decrements the live mapped bytes. Without the addon (not built: no C compiler
 * at build time; off Linux), with `TRELLIS_SHM_MAP=0`, with `maxMappedBytes: 0`, or when `mmap`
 * fails (a seccomp filter), results are read, as before; the reason is logged once.
 *
 * What keeps the host from SIGBUS: a mapping of a file that is later shrunk faults on the next
 * access to a page past the new end, and SIGBUS would kill the host. The host maps a result only if
 * its memfd carries F_SEAL_SHRINK (checked with F_GET_SEALS on the host's own descriptor, after
 * opening it): once set, that seal cannot be removed, and no process, the worker included, can make
 * the file shorter than the size checked with fstat right before mapping, and only that announced
 * size is mapped. A segment without the seal (an older or hostile worker; any file in /dev/shm,
 * which tmpfs creates unsealable) is read instead, and a read that finds the file shorter than
 * announced fails the call with ERR_SHM_PAYLOAD_INVALID, never with a signal. What the seal does
 * not stop: the worker writing into (or punching holes in, which reads as zeros) bytes the caller
 * has not yet written to; that is the worker choosing its result's bytes, not a fault. MAP_PRIVATE
 * makes the caller's own writes private (copy-on-write): nothing goes back to the worker.
 *
 * V8 does not count this memory, so a heap with few other allocations may not collect it soon: the
 * live mapped bytes of this process (all threads) are bounded (`maxMappedBytes`, default 1 GiB),
 * and over the bound results are read into Buffers, which V8 counts and which thus make it collect
 * the mapped ones.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';
import { getLogger } from '@trellis/core';

/** A result's segment is not what its frame says (short, not a file): fails the call, no retry. */
export class ShmPayloadProblem extends Error {}

/** Why the addon did not map: the step that failed (native/trellis_mmap.c, `map`). */
type MapFailure =
  | { readonly step: 'open' | 'fstat' | 'seals' | 'mmap'; readonly errno: number }
  | { readonly step: 'not_file' | 'unsealed' | 'arraybuffer'; readonly errno: number }
  | { readonly step: 'short'; readonly errno: number; readonly actual: number };

interface Addon {
  map(path: string, size: number, advice?: number): ArrayBuffer | MapFailure;
  adopt(holder: ArrayBuffer, isOriginal: boolean): boolean;
  stats(): { bytes: number; count: number; made: number; leaked: number };
}

/** Where `pnpm build` puts the addon: dist/native/, beside dist/src/ (this file is dist/src/shm/). */
const ADDON = new URL('../../native/trellis_mmap.node', import.meta.url);

let addon: Addon | null | undefined;
let said = false;

/** Logs once why results are read, not mapped (an expected setup, not a fault: info level). */
function readInstead(reason: string): false {
  if (!said) {
    said = true;
    getLogger().info({ reason }, 'shared-memory results are read into new Buffers, not mapped');
  }
  return false;
}

function load(): Addon | null {
  if (process.platform !== 'linux') {
    readInstead(`mapping needs Linux (this is ${process.platform})`);
    return null;
  }
  try {
    return createRequire(import.meta.url)(ADDON.pathname) as Addon;
  } catch (e) {
    readInstead(
      `the addon ${ADDON.pathname} cannot be loaded (${(e as Error).message}); it is built by the package's build when a C compiler is present`,
    );
    return null;
  }
}

/**
 * Loads the addon once; false when results are to be read (the reason is logged once).
 * `TRELLIS_SHM_MAP=0` is read at each call, so a test can switch the read path on for its pools.
 */
export function resultMappingAvailable(): boolean {
  if (process.env.TRELLIS_SHM_MAP === '0') return readInstead('TRELLIS_SHM_MAP=0');
  if (addon === undefined) addon = load();
  return addon !== null;
}

/**
 * Whether this process may open the worker's descriptors through `/proc/<pid>/fd`, asked once per
 * lane before it asks for memfd results. The kernel checks ptrace access (PTRACE_MODE_READ) on each
 * link in it: a worker of another user, or one that made itself non-dumpable
 * (`prctl(PR_SET_DUMPABLE, 0)`, as some security libraries do at import; a setuid or file-capability
 * interpreter), cannot be opened by a host without CAP_SYS_PTRACE. Such a lane gets its results as
 * named files in /dev/shm, which the host opens by name and reads, instead of memfds it could not
 * open (every large result of that worker would fail). Logged once per worker, at info level.
 */
export function workerFdsOpenable(pid: number): boolean {
  try {
    // Reading a link is the check that opening one makes (proc_fd_access_allowed); the folder
    // itself only needs its mode, which root passes even where the links are refused.
    const first = readdirSync(`/proc/${pid}/fd`)[0];
    if (first !== undefined) readlinkSync(`/proc/${pid}/fd/${first}`);
    return true;
  } catch (err) {
    getLogger().info(
      { workerPid: pid, err: (err as Error).message },
      "worker results are read from /dev/shm, not mapped: this process may not open the worker's /proc/<pid>/fd (run the worker as the host's user, and dumpable)",
    );
    return false;
  }
}

/**
 * Live mapped results of this process (every thread; `leaked`: those left mapped because their
 * thread's environment was torn down while another thread might still hold them) and all ever made
 * (tests, bench). Zero where the addon is not loaded.
 */
export function mappedResults(): { bytes: number; count: number; made: number; leaked: number } {
  return addon ? addon.stats() : { bytes: 0, count: 0, made: 0, leaked: 0 };
}

/** Reads exactly `size` bytes of `fd` from offset 0 into a new Buffer. */
export function readAll(fd: number, size: number, what: string): Buffer {
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, out, off, size - off, off);
    if (n === 0) throw new ShmPayloadProblem(`${what} holds ${off} bytes, fewer than the ${size} announced`);
    off += n;
  }
  return out;
}

/** An Error like the one `fs.openSync` throws, for a failed step of the addon. */
function systemError(step: string, errno: number, path: string): Error {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`${code}: ${step} failed for '${path}'`), { code, errno: -errno, path });
}

/**
 * Maps a sealed memfd through the addon: the Buffer, or undefined when it is to be read instead;
 * throws for a segment that is not what its frame says, and the open's error when the worker (and
 * so its descriptor) is gone.
 */
function mapSealed(a: Addon, path: string, size: number, what: string): Buffer | undefined {
  const r = a.map(path, size);
  if (r instanceof ArrayBuffer) {
    // node::Buffer::New marks an external ArrayBuffer untransferable for postMessage (Node.js 22
    // and later then refuse it). transfer() moves the backing store, which owns the mapping, to a
    // fresh ArrayBuffer without the mark and without a copy, so the caller can post the result to
    // another thread like any Buffer's. Node.js 20 has no transfer(): postMessage copies it there.
    const move = (r as { transfer?: () => ArrayBuffer }).transfer;
    const ab = typeof move === 'function' ? move.call(r) : r;
    // The finalizer checks this one at thread teardown: still here and attached, the mapping never
    // left this thread and is unmapped; otherwise it may live on elsewhere and is left in place.
    a.adopt(ab, ab === r);
    return Buffer.from(ab, 0, size);
  }
  switch (r.step) {
    case 'open':
    case 'fstat':
      throw systemError(r.step, r.errno, path);
    case 'not_file':
      throw new ShmPayloadProblem(`${what} is not a regular file`);
    case 'short':
      throw new ShmPayloadProblem(`${what} holds ${r.actual} bytes, fewer than the ${size} announced`);
    case 'seals':
    case 'unsealed':
      // Not sealed against shrinking (or not a memfd): read, which cannot fault.
      return undefined;
    case 'mmap':
    case 'arraybuffer':
      readInstead(
        `mapping failed at ${r.step} (${r.errno ? getSystemErrorName(-r.errno) : 'refused'}): a seccomp filter, or out of address space`,
      );
      return undefined;
    default:
      return r satisfies never;
  }
}

/**
 * Takes a worker's result memfd: maps /proc/<pid>/fd/<fd> (the addon opens a descriptor of the
 * host's own, so the worker may then close its one) when it is sealed against shrinking and the
 * process's mapped bytes stay within `maxMappedBytes`; reads it otherwise. Throws
 * ShmPayloadProblem for a segment that is not what the frame says, and the open's error when the
 * worker (and so its descriptor) is gone.
 */
export function takeMemfd(pid: number, workerFd: number, size: number, maxMappedBytes: number): Buffer {
  if (!Number.isInteger(workerFd) || workerFd < 3)
    throw new ShmPayloadProblem(`descriptor ${workerFd} is not a result segment`);
  const path = `/proc/${pid}/fd/${workerFd}`;
  const what = `the worker's result segment (descriptor ${workerFd})`;
  const a = addon;
  if (a && size > 0 && a.stats().bytes + size <= maxMappedBytes) {
    const b = mapSealed(a, path, size, what);
    if (b !== undefined) return b;
  }
  // O_NONBLOCK: a worker naming a FIFO must not block the event loop in open().
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ShmPayloadProblem(`${what} is not a regular file`);
    if (st.size < size)
      throw new ShmPayloadProblem(`${what} holds ${st.size} bytes, fewer than the ${size} announced`);
    return readAll(fd, size, what);
  } finally {
    closeSync(fd);
  }
}
