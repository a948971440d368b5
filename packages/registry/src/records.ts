/**
 * The record layout in the LMDB file (JSON values, string keys):
 *
 *   meta:version                  -> schema version (number)
 *   run:<runId>                   -> RunRecord
 *   child:<runId>/<reservation>   -> ChildRecord   (reservation id = `<runId>/<nonce>-<seq>`)
 *
 * Children of one run are contiguous (`child:<runId>/` .. `child:<runId>0`, since '0' follows '/').
 */
import { hasFields, isRunIdentity, type RunIdentity } from '@trellis/home';

/** One boot of a Trellis system: who ran it (the identity shared with health, @trellis/home), when and where. */
export interface RunRecord extends RunIdentity {
  /** ISO time the run started. */
  readonly startedAt: string;
  readonly cwd: string;
}

/** `reserved`: written before the spawn, no PID yet. `active`: PID, group and start time known. */
export type ChildState = 'reserved' | 'active';

export interface ChildRecord {
  readonly runId: string;
  readonly reservationId: string;
  readonly state: ChildState;
  /** The argument the child's command line carries: `--trellis-run-id=<runId>`. */
  readonly marker: string;
  readonly role: string;
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** ISO time of the reservation. */
  readonly recordedAt: string;
  readonly pid?: number;
  readonly pgid?: number;
  /** Clock ticks since boot: with `pid` it names the process, so a reused PID is recognised. */
  readonly startTime?: number;
  readonly activatedAt?: string;
}

export const META_VERSION_KEY = 'meta:version';

export function runKey(runId: string): string {
  return `run:${runId}`;
}

export function childKey(reservationId: string): string {
  return `child:${reservationId}`;
}

export const RUN_RANGE = Object.freeze({ start: 'run:', end: 'run;' });
export const CHILD_RANGE = Object.freeze({ start: 'child:', end: 'child;' });

export function childRangeOf(runId: string): { start: string; end: string } {
  return { start: `child:${runId}/`, end: `child:${runId}0` };
}

/** A run record as read back from the file: the shared run-identity check (@trellis/home). */
export function isRunRecord(v: unknown): v is RunRecord {
  return isRunIdentity(v);
}

export function isChildRecord(v: unknown): v is ChildRecord {
  if (!hasFields(v, { runId: 'string', reservationId: 'string', marker: 'string' })) return false;
  const c = v as ChildRecord;
  return (
    (c.state === 'reserved' || c.state === 'active') &&
    Array.isArray(c.args) &&
    (c.state === 'reserved' || hasFields(c, { pid: 'integer', pgid: 'integer', startTime: 'number' }))
  );
}
