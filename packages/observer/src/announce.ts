/**
 * Announce files: a running observer writes `observer-<pid>-<port>.json` ({ url, pid, root,
 * startedAt }) into the Trellis home, so `trellis status` and the standalone page find it from
 * another process without being told the port. The token is NOT written: reading the tree needs no
 * token, and control stays with whoever saw the start-up output.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from '@trellis/core';
import { OBSERVER_DEFAULTS } from './defaults.js';
import type { AnnouncedObserver } from './snapshot.js';

export function writeAnnounce(dir: string, info: AnnouncedObserver, port: number): string {
  mkdirSync(dir, { recursive: true });
  removeDeadAnnounces(dir);
  const file = join(dir, `${OBSERVER_DEFAULTS.announcePrefix}${info.pid}-${port}.json`);
  // Written aside and renamed: a reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600 });
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
    return [];
  }
  const out: Entry[] = [];
  for (const name of names) {
    if (!name.startsWith(OBSERVER_DEFAULTS.announcePrefix) || !name.endsWith('.json')) continue;
    const file = join(dir, name);
    out.push({ file, info: parse(file) });
  }
  return out;
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
