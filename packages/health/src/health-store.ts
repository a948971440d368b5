/**
 * The health file: run records and health records of every monitor run that used this directory.
 *
 * The monitor writes through `write()` once per flush interval: ONE synchronous write transaction
 * carrying every record whose state changed since the previous flush, the run's heartbeat table (one
 * value) and the run record (whose `lastFlushAt` tells readers the writer is still writing). Beats
 * themselves never touch LMDB.
 */
import { HEALTH_DEFAULTS } from './defaults.js';
import {
  type HealthRecord,
  type HealthRunRecord,
  type HeartbeatTable,
  heartbeatKey,
  heartbeatMap,
  isHealthRecord,
  isHealthRunRecord,
  isHeartbeatTable,
  RUN_RANGE,
  recordKey,
  recordRange,
  runKey,
  withHeartbeat,
} from './health-records.js';
import { type Db, openLmdbFile } from './lmdb-file.js';

export class HealthStore {
  readonly dir: string;
  #db: Db;
  #closed = false;

  private constructor(dir: string, db: Db) {
    this.dir = dir;
    this.#db = db;
  }

  /** Opens (creating if needed) the health file in `dir`; a bad file is moved aside. */
  static open(dir: string): HealthStore {
    return new HealthStore(
      dir,
      openLmdbFile({
        dir,
        fileName: HEALTH_DEFAULTS.fileName,
        schemaVersion: HEALTH_DEFAULTS.schemaVersion,
        recover: true,
      }),
    );
  }

  /** Opens the file read-only; `undefined` when no monitor ever wrote in `dir`. */
  static openReadOnly(dir: string): HealthStore | undefined {
    const db = openLmdbFile({
      dir,
      fileName: HEALTH_DEFAULTS.fileName,
      schemaVersion: HEALTH_DEFAULTS.schemaVersion,
      readOnly: true,
    });
    return db === undefined ? undefined : new HealthStore(dir, db);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Drops the read snapshot so what other processes committed becomes visible. */
  refresh(): void {
    this.#db.resetReadTxn();
  }

  getRun(runId: string): HealthRunRecord | undefined {
    const v = this.#db.get(runKey(runId));
    return isHealthRunRecord(v) ? v : undefined;
  }

  listRuns(): HealthRunRecord[] {
    const out: HealthRunRecord[] = [];
    for (const { value } of this.#db.getRange(RUN_RANGE)) if (isHealthRunRecord(value)) out.push(value);
    return out;
  }

  /** Records of one run, or of every run, with the run's heartbeat table applied. */
  listRecords(runId?: string): HealthRecord[] {
    const out: HealthRecord[] = [];
    const tables = new Map<string, ReturnType<typeof heartbeatMap>>();
    for (const { value } of this.#db.getRange(recordRange(runId))) {
      if (!isHealthRecord(value)) continue;
      if (!tables.has(value.runId)) tables.set(value.runId, heartbeatMap(this.getHeartbeats(value.runId)));
      out.push(withHeartbeat(value, tables.get(value.runId)));
    }
    return out;
  }

  /** The heartbeat table of a run (see health-records.ts). */
  getHeartbeats(runId: string): HeartbeatTable | undefined {
    const v = this.#db.get(heartbeatKey(runId));
    return isHeartbeatTable(v) ? v : undefined;
  }

  /** One flush: the run record, changed records, removed keys and the heartbeat table, in one write transaction. */
  write(
    run: HealthRunRecord,
    records: readonly HealthRecord[],
    removedKeys: readonly string[] = [],
    heartbeats?: HeartbeatTable,
  ): void {
    const db = this.#db;
    db.transactionSync(() => {
      for (const r of records) db.putSync(recordKey(r.runId, r.key), r);
      for (const k of removedKeys) db.removeSync(recordKey(run.runId, k));
      if (heartbeats !== undefined) db.putSync(heartbeatKey(run.runId), heartbeats);
      db.putSync(runKey(run.runId), run);
    });
  }

  /**
   * Marks runs whose writer died: the run becomes `dead` and every record of it that was live
   * (initializing, active, stale) becomes `dead`, keeping its last state in `stateBeforeDeath`. Then
   * deletes the records of all but the `retain` most recent dead runs. One transaction; the verdict
   * is re-read inside it, so two monitors booting at once cannot undo each other's marks.
   */
  markDead(isDead: (run: HealthRunRecord) => boolean, at: number, retain: number): string[] {
    const db = this.#db;
    return db.transactionSync(() => {
      const marked: string[] = [];
      const dead: HealthRunRecord[] = [];
      // Ranges are read into arrays before writing: a cursor must not walk pages this transaction changes.
      for (const { value } of [...db.getRange(RUN_RANGE)]) {
        if (!isHealthRunRecord(value)) continue;
        let run = value;
        if (run.state !== 'dead' && isDead(run)) {
          run = { ...run, state: 'dead', markedDeadAt: at };
          db.putSync(runKey(run.runId), run);
          for (const { key, value: rec } of [...db.getRange(recordRange(run.runId))]) {
            if (
              !isHealthRecord(rec) ||
              rec.state === 'failed' ||
              rec.state === 'stopped' ||
              rec.state === 'dead'
            )
              continue;
            db.putSync(key, {
              ...rec,
              state: 'dead',
              cause: 'run_dead',
              stateBeforeDeath: rec.state,
              writtenAt: at,
            });
          }
          marked.push(run.runId);
        }
        if (run.state === 'dead') dead.push(run);
      }
      dead.sort(
        (a, b) => (b.markedDeadAt ?? 0) - (a.markedDeadAt ?? 0) || b.startedAt.localeCompare(a.startedAt),
      );
      for (const run of dead.slice(Math.max(0, retain))) {
        for (const { key } of [...db.getRange(recordRange(run.runId))]) db.removeSync(key);
        db.removeSync(heartbeatKey(run.runId));
        db.removeSync(runKey(run.runId));
      }
      return marked;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
  }
}
