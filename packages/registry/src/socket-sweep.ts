/**
 * Socket files of dead runs' workers. A worker removes its own Unix sockets when it exits, and the
 * last worker out removes the pool's socket folder (trellis_worker/socket_cleanup.py); a worker the
 * sweep had to SIGKILL (a SIGSTOPped one, after a kill -9 of its host) never runs that code, so its
 * `<sock>` and `<sock>.lane` and the pool's `trellis-XXXXXX` folder stayed in TMPDIR. The registry
 * recorded each worker's command line, `--listen unix:<path>` included: for the children of runs
 * judged dead, once they are gone, those files go too. Only what a record names, and a folder only
 * when it is a `trellis-` folder left empty: nothing else in TMPDIR is touched.
 */
import { readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { ChildRecord } from './records.js';

/** The Unix socket path a worker's command line listens on, if any (`--listen unix:/p` or `=`). */
export function listenSocketOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v =
      a === '--listen' ? args[i + 1] : a.startsWith('--listen=') ? a.slice('--listen='.length) : undefined;
    if (v?.startsWith('unix:') && v.length > 'unix:'.length) return v.slice('unix:'.length);
  }
  return undefined;
}

/** Removes the sockets the dead children listened on, and their folders left empty; returns what went. */
export function sweepSocketFiles(children: readonly ChildRecord[]): string[] {
  const removed: string[] = [];
  const folders = new Set<string>();
  for (const c of children) {
    const sock = listenSocketOf(c.args);
    if (sock === undefined) continue;
    for (const p of [sock, `${sock}.lane`]) {
      try {
        unlinkSync(p);
        removed.push(p);
      } catch {
        // never created, or removed by the worker itself
      }
    }
    folders.add(dirname(sock));
  }
  for (const f of folders) {
    if (!basename(f).startsWith('trellis-')) continue;
    try {
      if (readdirSync(f).length === 0) {
        rmdirSync(f);
        removed.push(f);
      }
    } catch {
      // gone already, or not ours to read
    }
  }
  return removed;
}
