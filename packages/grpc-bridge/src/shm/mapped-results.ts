/**
 * Results mapped into the host: a worker's large result comes as a sealed memfd
 * (SharedSegment.fd), and the Buffer the caller gets is a copy-on-write mapping of it, instead of a
 * new Buffer the bytes are read into (segments.ts). Reading costs a second page-allocation pass and
 * a second copy of every byte; mapping costs one `mmap` call, and the pages the worker filled are
 * the ones the caller reads (docs/benchmarks.md, "The 100 MiB result").
 *
 * Why FFI (koffi) and not a hand-written addon: Node has no `mmap`, and an addon of ours would need
 * a C++ compiler (node-gyp) on every user's machine at install; the addons on npm that map files
 * (`mmap-io` 1.1.7, `shmmap` 1.0.0) ship no prebuilt binaries either. koffi ships prebuilt binaries
 * for each platform as npm packages, so it installs without a compiler. It is an optional
 * dependency, loaded lazily: without it, off Linux, with `TRELLIS_SHM_MAP=0`, with
 * `maxMappedBytes: 0`, or when `mmap` fails (a seccomp filter), results are read, as before.
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
 * Lifetime: the mapping is unmapped (off the event loop) when its ArrayBuffer is garbage-collected (FinalizationRegistry
 * keyed on the ArrayBuffer, which every Buffer over it keeps alive). The ArrayBuffer is marked
 * untransferable, so postMessage copies it instead of moving its memory to another thread behind
 * the registry's back; where `ArrayBuffer.prototype.transfer` exists (Node.js 22 and later) results
 * are read instead (TRANSFER_CAN_MOVE below says why). V8 does not count this memory, so a heap with
 * few other allocations may not
 * collect it soon: the live mapped bytes of this process are bounded (`maxMappedBytes`, default
 * 1 GiB), and over the bound results are read into Buffers, which V8 counts and which thus make it
 * collect the mapped ones.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { markAsUntransferable } from 'node:worker_threads';
import { getLogger } from '@trellis/core';

/** A result's segment is not what its frame says (short, not a file): fails the call, no retry. */
export class ShmPayloadProblem extends Error {}

const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_PRIVATE = 0x02;
const F_GET_SEALS = 1034;
const F_SEAL_SHRINK = 0x2;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

interface Libc {
  mmap(addr: null, len: number, prot: number, flags: number, fd: number, off: number): unknown;
  /** munmap on koffi's worker thread: freeing 100 MiB of pages takes 20-50 ms here. */
  munmapLater(addr: unknown, len: number): void;
  fcntl(fd: number, cmd: number, ...args: unknown[]): number;
  view(ptr: unknown, len: number): ArrayBuffer;
  address(ptr: unknown): bigint;
}

let loading: Promise<Libc | undefined> | undefined;
let libc: Libc | undefined;
let said = false;

/** Logs once why results are read, not mapped (an expected setup, not a fault: info level). */
function readInstead(reason: string): undefined {
  if (!said) {
    said = true;
    getLogger().info({ reason }, 'shared-memory results are read into new Buffers, not mapped');
  }
  return undefined;
}

/**
 * Why mapping needs a runtime without `ArrayBuffer.prototype.transfer` (Node.js 20): where it exists
 * (22 and later) it could move a mapped result's memory to a new ArrayBuffer, and the registry, keyed
 * on the old one, would unmap memory the new one still shows. markAsUntransferable would forbid the
 * move, but on Node.js 24.22 a koffi.view ArrayBuffer so marked aborts the process at exit ("FATAL
 * ERROR: v8::FromJust Maybe value is Nothing" in Environment::RunCleanup) once @trellis/core or
 * @opentelemetry/api is loaded, with koffi 2.16.3 and 3.3.4 alike (reproduced with a 15-line script;
 * the same script exits 0 on Node.js 20 and without the mark). Until that is fixed upstream, results
 * are read there, which is correct, only slower.
 */
const TRANSFER_CAN_MOVE = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

async function load(): Promise<Libc | undefined> {
  if (process.platform !== 'linux') return readInstead(`mapping needs Linux (this is ${process.platform})`);
  if (process.env.TRELLIS_SHM_MAP === '0') return readInstead('TRELLIS_SHM_MAP=0');
  if (TRANSFER_CAN_MOVE)
    return readInstead(
      `mapped results need Node.js 20 here: on ${process.version}, ArrayBuffer.prototype.transfer could move a mapping, and marking it untransferable aborts Node.js at exit`,
    );
  try {
    // The API is the namespace, or its default export where koffi is loaded as CommonJS.
    const mod = (await import('koffi')) as typeof import('koffi') & { default?: typeof import('koffi') };
    const koffi = mod.default ?? mod;
    const c = koffi.load('libc.so.6');
    const munmap = c.func('int munmap(void *addr, size_t len)');
    const l: Libc = {
      mmap: c.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
      munmapLater: (p, n) => munmap.async(p, n, () => {}),
      fcntl: c.func('int fcntl(int fd, int cmd, ...)'),
      view: (p, n) => koffi.view(p, n),
      address: (p) => (typeof p === 'bigint' ? p : BigInt(koffi.address(p))),
    };
    return l;
  } catch (e) {
    return readInstead(`the optional dependency koffi cannot be loaded (${(e as Error).message})`);
  }
}

/**
 * Loads koffi and libc once; false when results are to be read (the reason is logged once).
 * `TRELLIS_SHM_MAP=0` is read at each call, so a test can switch the read path on for its pools.
 */
export async function resultMappingAvailable(): Promise<boolean> {
  if (process.env.TRELLIS_SHM_MAP === '0') return readInstead('TRELLIS_SHM_MAP=0') ?? false;
  loading ??= load();
  libc = await loading;
  return libc !== undefined;
}

let liveBytes = 0;
let liveMappings = 0;
let madeMappings = 0;
// When the last page of a memfd goes (the worker has closed its descriptor and dropped its own
// mapping by now), unmapping frees its pages: that happens on koffi's thread, off the event loop,
// as segments.ts closes read segments on libuv's. Nothing in JS can reach the range any more.
const registry = new FinalizationRegistry<{ ptr: unknown; len: number }>(({ ptr, len }) => {
  libc?.munmapLater(ptr, len);
  liveBytes -= len;
  liveMappings--;
});

/** Bytes and count of this process's mapped results not yet collected, and of all ever made (tests, bench). */
export function mappedResults(): { bytes: number; count: number; made: number } {
  return { bytes: liveBytes, count: liveMappings, made: madeMappings };
}

/**
 * A copy-on-write mapping of `size` bytes of `fd`, or undefined (then the caller reads). Not
 * populated up front: the kernel maps 16 pages of the memfd per fault as the caller reads (fault
 * around), which was cheaper here than MAP_POPULATE of a read-only mapping plus the mprotect that
 * makes it writable (11 ms against 13-20 ms per 100 MiB), and a caller that reads only part of a
 * result pays only for that part. Populating a writable private mapping would copy every page.
 */
function mapPrivate(l: Libc, fd: number, size: number): Buffer | undefined {
  const ptr = l.mmap(null, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (ptr === null || l.address(ptr) === MAP_FAILED) {
    readInstead('mmap failed (a seccomp filter, or out of address space)');
    return undefined;
  }
  const ab = l.view(ptr, size);
  markAsUntransferable(ab);
  liveBytes += size;
  liveMappings++;
  madeMappings++;
  registry.register(ab, { ptr, len: size });
  return Buffer.from(ab, 0, size);
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

/**
 * Takes a worker's result memfd: opens /proc/<pid>/fd/<fd> (a descriptor of the host's own, so the
 * worker may then close its one), checks it, and maps it when it is sealed against shrinking and
 * the process's mapped bytes stay within `maxMappedBytes`; reads it otherwise. Throws
 * ShmPayloadProblem for a segment that is not what the frame says, and the open's error when the
 * worker (and so its descriptor) is gone.
 */
export function takeMemfd(pid: number, workerFd: number, size: number, maxMappedBytes: number): Buffer {
  if (!Number.isInteger(workerFd) || workerFd < 3)
    throw new ShmPayloadProblem(`descriptor ${workerFd} is not a result segment`);
  // O_NONBLOCK: a worker naming a FIFO must not block the event loop in open().
  const fd = openSync(
    `/proc/${pid}/fd/${workerFd}`,
    constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY,
  );
  try {
    const st = fstatSync(fd);
    const what = `the worker's result segment (descriptor ${workerFd})`;
    if (!st.isFile()) throw new ShmPayloadProblem(`${what} is not a regular file`);
    if (st.size < size)
      throw new ShmPayloadProblem(`${what} holds ${st.size} bytes, fewer than the ${size} announced`);
    const l = libc;
    if (l !== undefined && size > 0 && liveBytes + size <= maxMappedBytes) {
      const seals = l.fcntl(fd, F_GET_SEALS, 'int', 0);
      // The size was checked above, and with F_SEAL_SHRINK it cannot fall below it any more.
      if (seals !== -1 && (seals & F_SEAL_SHRINK) !== 0) {
        const b = mapPrivate(l, fd, size);
        if (b !== undefined) return b;
      }
    }
    return readAll(fd, size, what);
  } finally {
    closeSync(fd);
  }
}
