/**
 * The record layout in the LMDB file (JSON values, string keys):
 *
 *   meta:version                  -> schema version (number)
 *   run:<runId>                   -> RunRecord
 *   child:<runId>/<reservation>   -> ChildRecord   (reservation id = `<runId>/<nonce>-<seq>`)
 *
 * Children of one run are contiguous (`child:<runId>/` .. `child:<runId>0`, since '0' follows '/').
 */

/** One boot of a Trellis system. */
export interface RunRecord {
  readonly runId: string;
  readonly hostPid: number;
  /** Clock ticks since boot (field 22 of `/proc/<hostPid>/stat`): with `hostPid` it names the host. */
  readonly hostStartTime: number;
  /** `/proc/sys/kernel/random/boot_id` when the run started: another value means the machine rebooted. */
  readonly bootId: string;
  readonly hostname: string;
  /** PID namespace of the host (`pid:[...]`): PIDs from another namespace are not comparable. */
  readonly pidNamespace: string;
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

export function isRunRecord(v: unknown): v is RunRecord {
  const r = v as RunRecord;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof r.runId === 'string' &&
    Number.isInteger(r.hostPid) &&
    typeof r.hostStartTime === 'number' &&
    typeof r.bootId === 'string' &&
    typeof r.hostname === 'string' &&
    typeof r.pidNamespace === 'string'
  );
}

export function isChildRecord(v: unknown): v is ChildRecord {
  const c = v as ChildRecord;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof c.runId === 'string' &&
    typeof c.reservationId === 'string' &&
    (c.state === 'reserved' || c.state === 'active') &&
    typeof c.marker === 'string' &&
    Array.isArray(c.args) &&
    (c.state === 'reserved' ||
      (Number.isInteger(c.pid) && Number.isInteger(c.pgid) && typeof c.startTime === 'number'))
  );
}
