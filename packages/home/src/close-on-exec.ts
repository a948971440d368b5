/**
 * Keeps the LMDB files of a Trellis home out of every process this process spawns.
 *
 * LMDB opens an environment's data file (registry.mdb, health.mdb, leases.mdb) WITHOUT O_CLOEXEC, on
 * purpose (mdb.c `mdb_fopen`: only the lock and meta descriptors get it, because C programs use the
 * data descriptor via `mdb_env_get_fd`), and lmdb-js offers neither an option nor the descriptor.
 * Node.js's own descriptors are close-on-exec, and neither Node.js nor libuv closes anything else at
 * exec. So without this, every process spawned after the open (Python workers, every subprocess of
 * their tools including those that escape with setsid and outlive everything, etcd, the app's own
 * children) holds the data file open read-write: a tool could write into the registry through
 * /proc/self/fd/N, and a deleted or moved-aside file stays allocated on disk while any of them lives.
 *
 * How, and why this way (options weighed, 2026-12):
 *  - chosen: right after the open, find this process's descriptors on the file (the entries of
 *    /proc/self/fd whose fstat names the file's device and inode) and set FD_CLOEXEC on each through
 *    a one-function Node-API addon (native/trellis_cloexec.c, prebuilt into dist/native/ by `pnpm
 *    build` and shipped in the tarball). It covers every spawn path at once, Trellis's and the app's,
 *    on Node.js 20 and 24, and costs one listing of /proc/self/fd and an fstat per descriptor at
 *    each open (nothing at spawn time).
 *  - the child closing what it inherited (the Python worker does so at start, python-sdk
 *    trellis_worker/inherited_fds.py) covers only children that know to do it; etcd, openssl and the
 *    app's own children do not. It stays as the fallback when the addon is missing (no compiler at
 *    build time, another platform), which is logged here once.
 *  - passing the descriptor numbers as extra `stdio` entries of every spawn (libuv dup2s /dev/null
 *    over them) needs every spawn site to know them, the app's included, and still hands the child
 *    a descriptor; an FFI library (koffi) is a far larger dependency for one fcntl call.
 *
 * The race that remains: between LMDB's open() and the fcntl here (microseconds, on the thread
 * that opens), a spawn on ANOTHER thread (a pool in a thread actor starting a worker) still inherits
 * the descriptor. A Python worker closes it at start anyway; another program keeps it.
 *
 * `TRELLIS_FD_CLOEXEC=0` (read at each call) skips the addon, as a machine without it would: for
 * the tests of that fallback.
 */
import { fstatSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getLogger } from '@trellis/core';

/** What `closeOnExec` did. */
export type CloseOnExecOutcome =
  /** Every descriptor of this process on the files is now close-on-exec (`fds`: their numbers). */
  | { readonly kind: 'marked'; readonly fds: readonly number[] }
  /** Nothing was changed: the descriptors stay inheritable (why, in `reason`; logged once). */
  | { readonly kind: 'unavailable'; readonly fds: readonly number[]; readonly reason: string };

interface Addon {
  setCloexec(fd: number): number;
}

/** Where `pnpm build` puts the addon: dist/native/, beside dist/src/ (this file is dist/src/). */
const ADDON = new URL('../native/trellis_cloexec.node', import.meta.url);

let addon: Addon | { readonly missing: string } | undefined;
let said = false;

function unavailable(fds: readonly number[], reason: string): CloseOnExecOutcome {
  if (!said) {
    said = true;
    getLogger().warn(
      { reason },
      'LMDB data files stay open in processes spawned from here (Trellis Python workers close them at start; other children keep them): install a C compiler and rebuild Trellis, or install its published package, which ships the addon',
    );
  }
  return { kind: 'unavailable', fds, reason };
}

function load(): Addon | { readonly missing: string } {
  try {
    return createRequire(import.meta.url)(ADDON.pathname) as Addon;
  } catch (e) {
    return {
      missing: `the addon ${ADDON.pathname} cannot be loaded (${(e as Error).message}); it is built by the package's build when a C compiler is present`,
    };
  }
}

/** This process's descriptors open on one of `files` (same device and inode), in ascending order. */
export function descriptorsOn(files: readonly string[]): number[] {
  const ids = new Set<string>();
  for (const f of files) {
    try {
      const s = statSync(f);
      ids.add(`${s.dev}:${s.ino}`);
    } catch {
      // Not there (a lock file LMDB did not create): nothing of ours can be open on it.
    }
  }
  if (ids.size === 0) return [];
  const out: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    try {
      const s = fstatSync(fd);
      if (s.isFile() && ids.has(`${s.dev}:${s.ino}`)) out.push(fd);
    } catch {
      // Closed since the listing (the listing's own descriptor among them).
    }
  }
  return out.sort((a, b) => a - b);
}

/**
 * Marks close-on-exec every descriptor this process has open on `files` (an LMDB environment's
 * data and lock files), right after opening it. Never throws: without the addon (or off Linux) it
 * changes nothing, logs why once, and says so in its result.
 */
export function closeOnExec(files: readonly string[]): CloseOnExecOutcome {
  if (process.platform !== 'linux') return unavailable([], `needs Linux /proc (this is ${process.platform})`);
  let fds: number[];
  try {
    fds = descriptorsOn(files);
  } catch (e) {
    return unavailable([], `/proc/self/fd is unreadable (${(e as Error).message})`);
  }
  if (process.env.TRELLIS_FD_CLOEXEC === '0') return unavailable(fds, 'TRELLIS_FD_CLOEXEC=0');
  if (addon === undefined) addon = load();
  if ('missing' in addon) return unavailable(fds, addon.missing);
  const marked: number[] = [];
  for (const fd of fds) {
    const errno = addon.setCloexec(fd);
    // EBADF (9): closed by another thread since the scan; nothing left to mark.
    if (errno === 0) marked.push(fd);
    else if (errno !== 9)
      return unavailable(fds, `fcntl(${fd}, F_SETFD, FD_CLOEXEC) failed with errno ${errno}`);
  }
  return { kind: 'marked', fds: marked };
}
