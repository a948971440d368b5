/**
 * Opening the LMDB files of this package (health records, leases) in the registry directory.
 *
 * Both files live beside `registry.mdb` (same directory: the `dir` option, else TRELLIS_HOME, else
 * `<cwd>/.trellis`), each an environment of its own: they have their own writers and their own
 * recovery, and a bad health file must never take the registry's records with it.
 *
 * Every write is a synchronous LMDB transaction. LMDB serialises write transactions across every
 * process that maps the file (a robust mutex in the lock file, which the kernel releases if its
 * holder is killed mid-transaction), and a write transaction always starts from the latest committed
 * state. So a read-check-write inside `transactionSync` is atomic across processes: this is what the
 * leases rely on. Files are opened with `noSync`: a committed transaction is in the page cache and
 * visible to every process at once; only a kernel crash could lose it, and that also ends every
 * process and lease on the host (see the registry's store.ts for the same reasoning).
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { checkLmdbFile, closeOnExec } from '@trellis/home';
import { open, type RootDatabase } from 'lmdb';
import { HealthStoreUnavailableError } from './errors.js';

export type Db = RootDatabase<unknown, string>;

export interface OpenFileOptions {
  readonly dir: string;
  readonly fileName: string;
  readonly schemaVersion: number;
  /** Never create, write or move anything; a missing file gives `undefined`. */
  readonly readOnly?: boolean;
  /**
   * Move a bad file aside and start a fresh one (health records: diagnostics, not worth a crash).
   * False for leases: a process still mapping the old file would go on granting leases in it, and
   * two files would mean two leaders. A bad lease file is an error an operator must look at.
   */
  readonly recover?: boolean;
}

const VERSION_KEY = 'meta:version';

/** Opens (creating if needed) `<dir>/<fileName>`; a bad or foreign file is moved aside and replaced. */
export function openLmdbFile(o: OpenFileOptions & { readOnly?: false }): Db;
export function openLmdbFile(o: OpenFileOptions): Db | undefined;
export function openLmdbFile(o: OpenFileOptions): Db | undefined {
  const path = join(o.dir, o.fileName);
  if (o.readOnly) {
    if (!existsSync(path)) return undefined;
    const check = safeCheck(path);
    if (!check.ok) throw new HealthStoreUnavailableError(path, new Error(check.reason));
    return tryOpen(path, true, o.schemaVersion);
  }
  try {
    mkdirSync(o.dir, { recursive: true });
  } catch (err) {
    throw new HealthStoreUnavailableError(path, err);
  }
  const check = safeCheck(path);
  if (check.ok) {
    try {
      return tryOpen(path, false, o.schemaVersion);
    } catch (err) {
      if (!(err instanceof BadFile)) throw err;
      if (!o.recover) throw new HealthStoreUnavailableError(path, err);
      moveAside(path, err.message);
    }
  } else {
    if (!o.recover) throw new HealthStoreUnavailableError(path, new Error(check.reason));
    moveAside(path, check.reason);
  }
  return tryOpen(path, false, o.schemaVersion);
}

class BadFile extends Error {}

function safeCheck(path: string): { ok: true } | { ok: false; reason: string } {
  try {
    return checkLmdbFile(path);
  } catch (err) {
    throw new HealthStoreUnavailableError(path, err);
  }
}

function tryOpen(path: string, readOnly: boolean, schemaVersion: number): Db {
  let db: Db;
  try {
    db = open<unknown, string>({ path, noSync: true, readOnly });
  } catch (err) {
    throw new HealthStoreUnavailableError(path, err);
  }
  // Before anything can spawn: LMDB leaves the data file's descriptor inheritable (home's
  // close-on-exec.ts says why and what the fallback is).
  closeOnExec([path, `${path}-lock`]);
  const version = db.get(VERSION_KEY);
  if (version === undefined && !readOnly) db.putSync(VERSION_KEY, schemaVersion);
  else if (version !== undefined && version !== schemaVersion) {
    void db.close().catch(() => {});
    const why = `schema version ${JSON.stringify(version)}, this version of @trellis/health reads ${schemaVersion}`;
    if (readOnly) throw new HealthStoreUnavailableError(path, new Error(why));
    throw new BadFile(why);
  }
  return db;
}

/** The data and lock files become `<name>.corrupt-<timestamp>`: diagnostics are not worth a crash. */
function moveAside(path: string, reason: string): void {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (const p of [path, `${path}-lock`]) {
    if (!existsSync(p)) continue;
    try {
      renameSync(p, `${p}.corrupt-${stamp}`);
    } catch (err) {
      throw new HealthStoreUnavailableError(p, err);
    }
  }
  process.emitWarning(`trellis: ${path} was unusable (${reason}); moved it aside and started a fresh file`, {
    code: 'TRELLIS_HEALTH_FILE_MOVED',
  });
}
