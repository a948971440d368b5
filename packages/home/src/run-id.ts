/**
 * Run ids: `<created>-<home>-<hostPid>-<hostStart>-<nonce>`, e.g. `0m3pq1x2a-1f2e3d4c-4711-982345-9f3a2b1c`.
 *
 * - created: wall-clock milliseconds in base 36, 9 digits, so ids sort by creation time;
 * - home: 8 hex digits of a hash of the registry directory, so a marker scan can tell which registry
 *   a stray process belongs to;
 * - hostPid, hostStart: the host process's PID and start time (clock ticks since boot). A process
 *   found in `/proc` carrying this id can be judged an orphan (its host is gone) with no registry file
 *   at all, which is what makes recovery from a lost or corrupt registry possible;
 * - nonce: 32 random bits, so two instances created in the same millisecond by the same PID (a PID
 *   reused within one millisecond cannot happen, but threads can race) still differ.
 */
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { RUN_MARKER_PREFIX, readProcStat } from '@trellis/core';

export interface RunIdParts {
  /** Wall-clock milliseconds when the id was made. */
  readonly createdAt: number;
  readonly homeTag: string;
  readonly hostPid: number;
  readonly hostStartTime: number;
  readonly nonce: string;
}

const RUN_ID = /^([0-9a-z]{9})-([0-9a-f]{8})-([1-9][0-9]{0,9})-([0-9]{1,20})-([0-9a-f]{8})$/;

/** A new run id for this process (or the given host) and registry home. */
export function createRunId(
  homeTag: string,
  host: { pid: number; startTime: number } = currentHost(),
  now: number = Date.now(),
): string {
  return `${now.toString(36).padStart(9, '0')}-${homeTag}-${host.pid}-${host.startTime}-${randomBytes(4).toString('hex')}`;
}

/** The parts of a run id, or `undefined` when it is not one. */
export function parseRunId(runId: string): RunIdParts | undefined {
  const m = RUN_ID.exec(runId);
  if (!m) return undefined;
  return {
    createdAt: Number.parseInt(m[1]!, 36),
    homeTag: m[2]!,
    hostPid: Number(m[3]),
    hostStartTime: Number(m[4]),
    nonce: m[5]!,
  };
}

/** The run id in a marker argument (`--trellis-run-id=<id>`), if the argument is one. */
export function runIdFromMarker(arg: string): string | undefined {
  return arg.startsWith(RUN_MARKER_PREFIX) ? arg.slice(RUN_MARKER_PREFIX.length) : undefined;
}

/** The home tag of a registry directory: 8 hex digits of SHA-256 of its real path. */
export function homeTagFor(dir: string): string {
  let real = dir;
  try {
    real = realpathSync(dir);
  } catch {
    // not created yet: the resolved path is what it will be
  }
  return createHash('sha256').update(real).digest('hex').slice(0, 8);
}

/** This process's PID and start time. */
export function currentHost(): { pid: number; startTime: number } {
  const st = readProcStat(process.pid);
  return { pid: process.pid, startTime: st?.startTime ?? 0 };
}
