/**
 * Reading health records from any process (the CLI, the observer, a second instance), while the
 * writer runs and after it died.
 *
 * The state a reader shows is never just what was last written: a writer killed with -9 leaves its
 * records as they were ("active"). So every run is judged first, the way the registry judges runs:
 * its host PID must exist with the recorded start time, on this boot. The records of a run whose
 * writer is gone are reported `dead` (with what they said in `recordedState`), whether or not a later
 * boot has already marked them so in the file.
 */
import { resolveHomeDir } from '@trellis/home';
import type { HealthRecord, HealthRunRecord, RecordState } from './health-records.js';
import { HealthStore } from './health-store.js';
import { hereIdentity, judgeHealthRun } from './run-identity.js';

/** running: writer alive; stopped: it stopped in order; dead: it died; foreign: another host or namespace. */
export type RunLiveness = 'running' | 'stopped' | 'dead' | 'foreign';

export interface HealthRunView extends HealthRunRecord {
  readonly liveness: RunLiveness;
  /** Milliseconds since the writer's last flush, as of the read. */
  readonly sinceLastFlushMs: number;
  /**
   * A running writer that has not flushed for 3 flush intervals: its process lives but the monitor
   * is stuck, killed or being restarted, so its records may be out of date.
   */
  readonly silent: boolean;
}

export interface HealthRecordView extends HealthRecord {
  /** What the reader should show: `dead` when the run is dead and the record was live, else what was recorded. */
  readonly state: RecordState;
  /** What the file says. */
  readonly recordedState: RecordState;
  readonly runLiveness: RunLiveness;
  /** Time since registration: as of the read while the run runs and the actor is watched, else as last written. */
  readonly uptimeMs: number;
  /** Milliseconds since the last heartbeat, as of the read (null: none yet). */
  readonly heartbeatAgeMs: number | null;
}

export interface HealthSnapshot {
  readonly dir: string;
  /** Wall ms of the read. */
  readonly readAt: number;
  readonly runs: readonly HealthRunView[];
  readonly records: readonly HealthRecordView[];
}

export interface HealthReaderOptions {
  /** Precedence: this > TRELLIS_HOME > `<cwd>/.trellis`. */
  readonly dir?: string;
}

/** A read-only view of the health file, to be read again and again (an observer polls it). */
export class HealthReader {
  readonly dir: string;
  #store: HealthStore | undefined;

  constructor(options: HealthReaderOptions = {}) {
    this.dir = resolveHomeDir({ dir: options.dir });
  }

  /** Runs and records as of now. Empty when no monitor ever wrote in the directory. */
  snapshot(options: { runId?: string } = {}): HealthSnapshot {
    const readAt = Date.now();
    if (this.#store === undefined) this.#store = HealthStore.openReadOnly(this.dir);
    const store = this.#store;
    if (store === undefined) return { dir: this.dir, readAt, runs: [], records: [] };
    store.refresh();
    const here = hereIdentity(this.dir);
    const runs = new Map<string, HealthRunView>();
    for (const r of store.listRuns()) {
      if (options.runId !== undefined && r.runId !== options.runId) continue;
      runs.set(r.runId, viewRun(r, judgeHealthRun(r, here), readAt));
    }
    const records: HealthRecordView[] = [];
    for (const rec of store.listRecords(options.runId)) {
      const run = runs.get(rec.runId);
      const liveness: RunLiveness = run?.liveness ?? 'dead';
      const watched = liveness === 'running' && isLive(rec.state);
      records.push({
        ...rec,
        state: liveness === 'dead' && isLive(rec.state) ? 'dead' : rec.state,
        recordedState: rec.state,
        runLiveness: liveness,
        // Records are rewritten only on changes: the uptime of a live one runs on until the read.
        uptimeMs: watched ? Math.max(rec.uptimeMs, readAt - rec.registeredAt) : rec.uptimeMs,
        heartbeatAgeMs: rec.lastHeartbeatAt === null ? null : Math.max(0, readAt - rec.lastHeartbeatAt),
      });
    }
    return { dir: this.dir, readAt, runs: [...runs.values()], records };
  }

  async close(): Promise<void> {
    const s = this.#store;
    this.#store = undefined;
    await s?.close();
  }
}

function viewRun(r: HealthRunRecord, verdict: string, readAt: number): HealthRunView {
  let liveness: RunLiveness;
  if (r.state === 'stopped') liveness = 'stopped';
  else if (r.state === 'dead') liveness = 'dead';
  else if (verdict === 'foreign') liveness = 'foreign';
  else liveness = verdict === 'alive' ? 'running' : 'dead';
  const since = Math.max(0, readAt - r.lastFlushAt);
  return {
    ...r,
    liveness,
    sinceLastFlushMs: since,
    silent: liveness === 'running' && since > 3 * r.flushIntervalMs,
  };
}

/** Whether a recorded state claims the actor was being watched (so a dead writer makes it `dead`). */
function isLive(s: RecordState): boolean {
  return s === 'initializing' || s === 'active' || s === 'stale';
}

/** One snapshot of the health file (opens, reads, closes). */
export async function readHealth(
  options: HealthReaderOptions & { runId?: string } = {},
): Promise<HealthSnapshot> {
  const reader = new HealthReader(options);
  try {
    return reader.snapshot({ runId: options.runId });
  } finally {
    await reader.close();
  }
}
