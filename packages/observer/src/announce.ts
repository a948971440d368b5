/**
 * Announce files: a running observer writes `observer-<pid>-<port>.json` ({ url, pid, root,
 * startedAt }) into the Trellis home, so `trellis status` and the standalone page find it from
 * another process without being told the port. The token is NOT written: reading the tree needs no
 * token, and control stays with whoever saw the start-up output.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '@trellis/core';
import { OBSERVER_DEFAULTS } from './defaults.js';
import type { AnnouncedObserver } from './snapshot.js';

export function writeAnnounce(
  dir: string,
  info: AnnouncedObserver,
  port: number,
  readToken?: string,
): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  removeDeadAnnounces(dir);
  const file = join(dir, `${OBSERVER_DEFAULTS.announcePrefix}${info.pid}-${port}.json`);
  // Written aside and renamed: a reader never sees half a file. Mode 0600: the read token in it
  // lets `trellis logs` of the same user read the logs, and nobody else.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(readToken === undefined ? info : { ...info, readToken })}\n`, {
    mode: 0o600,
  });
  renameSync(tmp, file);
  return file;
}

export function removeAnnounce(file: string): void {
  rmSync(file, { force: true });
}

interface Entry {
  readonly file: string;
  readonly info: AnnouncedObserver | undefined;
}

function entries(dir: string): Entry[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no such directory yet: nothing announced
  }
  return names
    .filter((name) => name.startsWith(OBSERVER_DEFAULTS.announcePrefix) && name.endsWith('.json'))
    .map((name) => join(dir, name))
    .map((file) => ({ file, info: parse(file) }));
}

function parse(file: string): AnnouncedObserver | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as AnnouncedObserver;
    if (typeof v?.url !== 'string' || !Number.isInteger(v.pid) || typeof v.startedAt !== 'number')
      return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/** Observers announced in `dir` whose process is alive, newest first. */
export function listAnnounced(dir: string): AnnouncedObserver[] {
  return entries(dir)
    .map((e) => e.info)
    .filter((i): i is AnnouncedObserver => i !== undefined && isProcessAlive(i.pid))
    .sort((a, b) => b.startedAt - a.startedAt);
}

/** Files left by observers whose process died without closing (kill -9). */
function removeDeadAnnounces(dir: string): void {
  for (const e of entries(dir)) {
    if (e.info !== undefined && !isProcessAlive(e.info.pid)) rmSync(e.file, { force: true });
  }
}

/**
 * This user's own directory for announce files: `$XDG_RUNTIME_DIR/trellis/observers`, else
 * `<tmpdir>/trellis-<uid>/observers`. Every observer announces itself there too, so `trellis
 * status` and `trellis logs` find a running one from any directory. A directory that another user
 * created or can write to (someone pre-creating /tmp/trellis-<uid>) is not used: undefined.
 */
export function userAnnounceDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const runtime = env.XDG_RUNTIME_DIR;
  const base =
    runtime !== undefined && runtime !== '' ? join(runtime, 'trellis') : join(tmpdir(), `trellis-${uid}`);
  try {
    mkdirSync(base, { recursive: true, mode: 0o700 });
    const st = lstatSync(base);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) return undefined;
  } catch {
    return undefined;
  }
  return join(base, 'observers');
}

/** The read token an observer announced in `dir` wrote for its user (see writeAnnounce). */
export function announcedReadToken(dir: string, url: string): string | undefined {
  for (const e of entries(dir)) {
    if (e.info?.url !== url) continue;
    try {
      const v = JSON.parse(readFileSync(e.file, 'utf8')) as { readToken?: unknown };
      return typeof v.readToken === 'string' ? v.readToken : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
