/**
 * The LMDB file behind the registry: open (with recovery from bad files), read and write records.
 *
 * Durability. The registry must survive a crash of the HOST PROCESS (kill -9, OOM kill): that is the
 * moment orphans appear. Every write here is a synchronous LMDB transaction (`putSync`,
 * `transactionSync`): when the call returns, the transaction is committed, i.e. its pages are in the
 * kernel's page cache and visible to every other process that opens the file. A process crash cannot
 * undo that; only the kernel crashing (power loss, panic) can lose page-cache data. So the file is
 * opened with `noSync` by default: commits skip fsync, which costs ~0.3 ms each on this class of disk
 * and would triple the cost of a tracked spawn, and buy nothing for the registry's purpose, because
 * a machine crash also kills every child (and the boot id check then drops the records untouched).
 * The one risk noSync adds, a file left inconsistent by a machine crash, is the "bad registry file"
 * case: it is detected at the next open, moved aside, and the marker scan takes over.
 * `syncToDisk: true` restores an fsync per commit for those who want the file itself to survive.
 *
 * Why not lmdb-js's asynchronous `put`: it batches writes into a transaction committed on a later
 * event-loop turn by a worker thread. Its promise does resolve on commit, but the spawn would have to
 * wait a round trip through that thread (measured ~0.1-0.5 ms) and any forgotten `await` would spawn
 * before the record exists. A synchronous commit makes "durable before spawn" a property of the call
 * returning, with nothing to forget.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { checkLmdbFile, closeOnExec } from '@trellis/home';
import { open, type RootDatabase } from 'lmdb';
import { REGISTRY_DEFAULTS } from './defaults.js';
import { noRoomError, roomOn } from './disk-room.js';
import { CorruptRegistryError, RegistryUnavailableError } from './errors.js';
import type { RegistryLogger } from './logger.js';
import {
  CHILD_RANGE,
  type ChildRecord,
  childKey,
  childRangeOf,
  isChildRecord,
  isRunRecord,
  META_VERSION_KEY,
  RUN_RANGE,
  type RunRecord,
  runKey,
} from './records.js';

export interface OpenStoreOptions {
  /** The registry directory (see location.ts). */
  readonly dir: string;
  readonly logger: RegistryLogger;
  /** Never write and never move files: a bad file raises `CorruptRegistryError` instead. */
  readonly readOnly?: boolean;
  /** Move a bad file aside and start fresh (default); false raises `CorruptRegistryError` instead. */
  readonly recover?: boolean;
  /** fsync every commit (survives power loss, ~0.3 ms per write). Default false, see the module comment. */
  readonly syncToDisk?: boolean;
}

/** What happened when a bad file was found at open. */
export interface StoreRecovery {
  readonly reason: string;
  /** Absolute paths the old files were renamed to. */
  readonly movedAside: readonly string[];
}

// LMDB's own error codes for a damaged or foreign file.
const CORRUPTION_CODES = new Set([-30793, -30794, -30795, -30796, -30797]);

class BadFile extends Error {}

type Db = RootDatabase<unknown, string>;

export class RegistryStore {
  readonly dir: string;
  readonly path: string;
  readonly recovery: StoreRecovery | undefined;
  #db: Db;
  #closed = false;

  private constructor(dir: string, db: Db, recovery: StoreRecovery | undefined) {
    this.dir = dir;
    this.path = join(dir, REGISTRY_DEFAULTS.fileName);
    this.#db = db;
    this.recovery = recovery;
  }

  /** Whether a registry file exists in `dir`. */
  static exists(dir: string): boolean {
    return existsSync(join(dir, REGISTRY_DEFAULTS.fileName));
  }

  /**
   * Opens (creating if needed) the registry in `dir`. A corrupt file or one with another schema
   * version is renamed to `<name>.corrupt-<timestamp>` with a warning, and a fresh file is started;
   * `recovery` then says so, and the caller must run the marker scan (the old records are lost).
   */
  static open(options: OpenStoreOptions): RegistryStore {
    const path = join(options.dir, REGISTRY_DEFAULTS.fileName);
    if (!options.readOnly) {
      let room: ReturnType<typeof roomOn>;
      try {
        mkdirSync(options.dir, { recursive: true });
        room = roomOn(options.dir, REGISTRY_DEFAULTS.minFreeBytes);
      } catch (err) {
        throw new RegistryUnavailableError(path, err);
      }
      // Before LMDB maps anything: on a full filesystem it would die of SIGBUS (disk-room.ts).
      if (!room.enough)
        throw new RegistryUnavailableError(
          path,
          noRoomError(options.dir, room, REGISTRY_DEFAULTS.minFreeBytes),
        );
    }
    const first = tryOpen(path, options);
    if (first.db) return new RegistryStore(options.dir, first.db, undefined);
    if (options.readOnly || options.recover === false) throw new CorruptRegistryError(path, first.reason);
    const movedAside = moveAside(options.dir);
    options.logger.warn(
      `trellis registry: ${path} is unusable (${first.reason}); moved it aside to ${movedAside.join(', ')} and started a fresh registry. Leftover processes will be found by their run marker.`,
      { path, reason: first.reason, movedAside },
    );
    const second = tryOpen(path, options);
    if (!second.db) throw new RegistryUnavailableError(path, new Error(second.reason));
    return new RegistryStore(options.dir, second.db, { reason: first.reason, movedAside });
  }

  /** Drops the read snapshot so records committed by other processes or threads become visible. */
  refresh(): void {
    this.#db.resetReadTxn();
  }

  getRun(runId: string): RunRecord | undefined {
    return this.#db.get(runKey(runId)) as RunRecord | undefined;
  }

  listRuns(): RunRecord[] {
    const out: RunRecord[] = [];
    for (const { value } of this.#db.getRange(RUN_RANGE)) out.push(value as RunRecord);
    return out;
  }

  getChild(reservationId: string): ChildRecord | undefined {
    return this.#db.get(childKey(reservationId)) as ChildRecord | undefined;
  }

  /** Children of one run, or of every run. */
  listChildren(runId?: string): ChildRecord[] {
    const out: ChildRecord[] = [];
    for (const { value } of this.#db.getRange(runId === undefined ? CHILD_RANGE : childRangeOf(runId))) {
      out.push(value as ChildRecord);
    }
    return out;
  }

  putRun(record: RunRecord): void {
    this.#write(() => this.#db.putSync(runKey(record.runId), record));
  }

  putChild(record: ChildRecord): void {
    this.#write(() => this.#db.putSync(childKey(record.reservationId), record));
  }

  /**
   * Every write goes through here: a failed commit (the disk filled up while running, the directory
   * became read-only) surfaces as ERR_REGISTRY_UNAVAILABLE with the path and the fix, and nothing of
   * the transaction is kept. The caller (a spawn's reservation) is refused; the host goes on.
   */
  #write<T>(commit: () => T): T {
    // Why ask statfs before every write (a few µs; registry writes are per spawn, not per call): a
    // commit that meets ENOSPC in LMDB's page spill has been seen to abort the whole host inside
    // lmdb-js's native error path (chaos, disk-full fault), which no catch here can stop. Refusing
    // while the filesystem is below the floor keeps LMDB away from that path whenever the disk is
    // already full; only a disk that fills during the few µs of one commit can still reach it.
    let room: ReturnType<typeof roomOn>;
    try {
      room = roomOn(this.dir, REGISTRY_DEFAULTS.minFreeBytes);
    } catch (err) {
      throw new RegistryUnavailableError(this.path, err);
    }
    if (!room.enough)
      throw new RegistryUnavailableError(
        this.path,
        noRoomError(this.dir, room, REGISTRY_DEFAULTS.minFreeBytes),
      );
    try {
      return commit();
    } catch (err) {
      throw new RegistryUnavailableError(this.path, err);
    }
  }

  /**
   * Replaces a child record only if it still exists, atomically: another thread or process (stopAll,
   * a sweep) may remove it at any moment, and a removed reservation must not come back.
   */
  updateChild(reservationId: string, update: (current: ChildRecord) => ChildRecord): ChildRecord | undefined {
    const key = childKey(reservationId);
    return this.#write(() =>
      this.#db.transactionSync(() => {
        const current = this.#db.get(key) as ChildRecord | undefined;
        if (current === undefined) return undefined;
        const next = update(current);
        this.#db.putSync(key, next);
        return next;
      }),
    );
  }

  removeChild(reservationId: string): boolean {
    return this.#write(() => this.#db.removeSync(childKey(reservationId)));
  }

  removeRun(runId: string): boolean {
    return this.#write(() => this.#db.removeSync(runKey(runId)));
  }

  /** Removes child records and run records in one transaction. */
  removeMany(reservationIds: Iterable<string>, runIds: Iterable<string> = []): void {
    this.#write(() =>
      this.#db.transactionSync(() => {
        for (const id of reservationIds) this.#db.removeSync(childKey(id));
        for (const id of runIds) this.#db.removeSync(runKey(id));
      }),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
  }
}

/** Opens and fully validates the file; `reason` when it is bad. Other failures throw. */
function tryOpen(
  path: string,
  options: OpenStoreOptions,
): { db: Db; reason?: never } | { db?: never; reason: string } {
  let check: ReturnType<typeof checkLmdbFile>;
  try {
    check = checkLmdbFile(path);
  } catch (err) {
    throw new RegistryUnavailableError(path, err);
  }
  if (!check.ok) return { reason: check.reason };
  if (options.readOnly && check.fresh) return { reason: 'the file is empty' };
  let db: Db | undefined;
  try {
    db = open<unknown, string>({
      path,
      encoding: 'json',
      noSync: !options.syncToDisk,
      readOnly: options.readOnly === true,
      cache: false,
    });
    // Before anything can spawn: LMDB leaves the data file's descriptor inheritable (home's
    // close-on-exec.ts says why and what the fallback is).
    closeOnExec([path, `${path}-lock`]);
    validate(db, options.readOnly === true);
    return { db };
  } catch (err) {
    if (db) void db.close().catch(() => {});
    if (err instanceof BadFile) return { reason: err.message };
    if (err instanceof SyntaxError) return { reason: `a record is not valid JSON (${err.message})` };
    if (isCorruption(err)) return { reason: `LMDB reports ${(err as Error).message}` };
    throw new RegistryUnavailableError(path, err);
  }
}

/** Reads every entry once: damage anywhere surfaces now, at open, not in the middle of a sweep. */
function validate(db: Db, readOnly: boolean): void {
  const version = db.get(META_VERSION_KEY);
  if (version !== undefined && version !== REGISTRY_DEFAULTS.schemaVersion) {
    throw new BadFile(
      `schema version ${JSON.stringify(version)}, this version of @trellis/registry reads ${REGISTRY_DEFAULTS.schemaVersion}`,
    );
  }
  let entries = 0;
  for (const { key, value } of db.getRange({})) {
    entries++;
    if (typeof key !== 'string') throw new BadFile(`unexpected key ${String(key)}`);
    if (key.startsWith('run:') && !isRunRecord(value)) throw new BadFile(`malformed run record ${key}`);
    if (key.startsWith('child:') && !isChildRecord(value)) throw new BadFile(`malformed child record ${key}`);
  }
  if (version === undefined) {
    if (entries > 0) throw new BadFile('records without a schema version (written by an unknown program)');
    if (!readOnly) db.putSync(META_VERSION_KEY, REGISTRY_DEFAULTS.schemaVersion);
  }
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'number' && CORRUPTION_CODES.has(code)) return true;
  const message = (err as Error)?.message ?? '';
  return /MDB_(CORRUPTED|PAGE_NOTFOUND|INVALID|VERSION_MISMATCH|PANIC)/.test(message);
}

/** Renames the data and lock files to `<name>.corrupt-<timestamp>`; returns the new paths. */
function moveAside(dir: string): string[] {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const moved: string[] = [];
  for (const name of [REGISTRY_DEFAULTS.fileName, `${REGISTRY_DEFAULTS.fileName}-lock`]) {
    const from = join(dir, name);
    if (!existsSync(from)) continue;
    let to = join(dir, `${name}.corrupt-${stamp}`);
    // Bounded: two recoveries in the same millisecond get -1, -2, ...
    for (let i = 1; existsSync(to) && i < 100; i++) to = join(dir, `${name}.corrupt-${stamp}-${i}`);
    try {
      renameSync(from, to);
    } catch (err) {
      throw new RegistryUnavailableError(from, err);
    }
    moved.push(to);
  }
  return moved;
}
