/**
 * The layout of the health file (`<registry dir>/health.mdb`, msgpack values, string keys):
 *
 *   meta:version             -> schema version (number)
 *   run:<runId>              -> HealthRunRecord: one per monitor run (a process's monitor)
 *   rec:<runId>/<key>        -> HealthRecord: one per monitored key of that run
 *   hb:<runId>               -> HeartbeatTable: last heartbeat and beat count of every key of the run
 *
 * Why the heartbeat table: beats change a record all the time, every other field rarely. Rewriting
 * 1,000 full records per flush because their heartbeat moved costs several milliseconds of encoding;
 * so a record is rewritten only when something else changed (a state, a registration, an exit) and
 * the heartbeats of the whole run go in ONE compact, columnar value per flush. Readers overlay the
 * table on the records (`lastHeartbeatAt`, `beats`), whichever is newer.
 *
 * Records of one run are contiguous (`rec:<runId>/` .. `rec:<runId>0`, since '0' follows '/'), so a
 * reader lists one run with one range scan. Times are wall-clock milliseconds since the epoch (other
 * processes read them), derived from the monitor's clock so a simulated clock gives consistent values.
 *
 * A run record carries the run identity shared with the registry (@trellis/home: host pid + start
 * time, boot id, host name, PID namespace), so `judgeRun` decides whether its writer is alive, and
 * one validator checks both kinds of run record.
 */
import { hasFields, isRunIdentity, type RunIdentity } from '@trellis/home';
import type { HealthState, StalePolicy, TransitionCause } from './health-state.js';

/** `dead`: the writing process died (kill -9, crash) while the record was live. */
export type RecordState = HealthState | 'dead';

export interface HealthRecord {
  readonly runId: string;
  readonly key: string;
  /** The pid of the current (or last) incarnation. */
  readonly pid: string;
  readonly id: string | null;
  readonly supervisor: string | null;
  readonly kind: string;
  readonly state: RecordState;
  /** Why it is in this state. */
  readonly cause: TransitionCause | 'run_dead';
  /** Set when `state` is `dead`: the state the record had when its run died. */
  readonly stateBeforeDeath?: HealthState;
  readonly policy: StalePolicy;
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  readonly startupTimeoutMs: number;
  readonly failAfterMs: number;
  /** When this incarnation was registered. */
  readonly registeredAt: number;
  readonly stateSince: number;
  readonly lastHeartbeatAt: number | null;
  /** Heartbeats of this incarnation. */
  readonly beats: number;
  /** Time since registration, as of `writtenAt`. */
  readonly uptimeMs: number;
  /** New incarnations of this key (restarts by its supervisor, or re-registrations). */
  readonly restarts: number;
  readonly lastExitReason: string | null;
  readonly lastExitAt: number | null;
  /** When this copy of the record was made. */
  readonly writtenAt: number;
}

export type RunState = 'running' | 'stopped' | 'dead';

export interface HealthRunRecord extends RunIdentity {
  /** ISO time the monitor started this run. */
  readonly startedAt: string;
  readonly cwd: string;
  /** The monitor's registered name and pid. */
  readonly name: string;
  readonly monitorPid: string;
  readonly state: RunState;
  readonly flushIntervalMs: number;
  /** Wall ms of the last flush: a reader can tell a silent writer from a busy one. */
  readonly lastFlushAt: number;
  readonly stoppedAt?: number;
  /** Wall ms when a later boot found the run dead and marked it. */
  readonly markedDeadAt?: number;
}

/** Columnar: entry i is keys[i]'s last heartbeat (wall ms) and beat count. */
export interface HeartbeatTable {
  readonly writtenAt: number;
  readonly keys: readonly string[];
  readonly lastHeartbeatAt: readonly number[];
  readonly beats: readonly number[];
}

export const META_VERSION_KEY = 'meta:version';
export const RUN_RANGE = Object.freeze({ start: 'run:', end: 'run;' });

export function runKey(runId: string): string {
  return `run:${runId}`;
}

export function recordKey(runId: string, key: string): string {
  return `rec:${runId}/${key}`;
}

export function heartbeatKey(runId: string): string {
  return `hb:${runId}`;
}

export function isHeartbeatTable(v: unknown): v is HeartbeatTable {
  const t = v as HeartbeatTable;
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray(t.keys) &&
    Array.isArray(t.lastHeartbeatAt) &&
    Array.isArray(t.beats) &&
    t.keys.length === t.lastHeartbeatAt.length &&
    t.keys.length === t.beats.length
  );
}

/** A record with the newer heartbeat of the table, if the table has one for its key. */
export function withHeartbeat(
  r: HealthRecord,
  table: Map<string, { at: number; beats: number }> | undefined,
): HealthRecord {
  const hb = table?.get(r.key);
  if (hb === undefined || (r.lastHeartbeatAt !== null && r.lastHeartbeatAt >= hb.at)) return r;
  return { ...r, lastHeartbeatAt: hb.at, beats: Math.max(r.beats, hb.beats) };
}

/** The table as a map from key to its entry. */
export function heartbeatMap(
  t: HeartbeatTable | undefined,
): Map<string, { at: number; beats: number }> | undefined {
  if (t === undefined) return undefined;
  const m = new Map<string, { at: number; beats: number }>();
  for (let i = 0; i < t.keys.length; i++)
    m.set(t.keys[i]!, { at: t.lastHeartbeatAt[i]!, beats: t.beats[i]! });
  return m;
}

export function recordRange(runId?: string): { start: string; end: string } {
  return runId === undefined
    ? { start: 'rec:', end: 'rec;' }
    : { start: `rec:${runId}/`, end: `rec:${runId}0` };
}

export function isHealthRunRecord(v: unknown): v is HealthRunRecord {
  return isRunIdentity(v) && typeof (v as HealthRunRecord).state === 'string';
}

export function isHealthRecord(v: unknown): v is HealthRecord {
  return hasFields(v, { runId: 'string', key: 'string', state: 'string' });
}
