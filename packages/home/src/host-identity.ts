/**
 * "Here", and whether a run's host is alive. A run is alive exactly when a process with its host's
 * PID AND start time exists (zombies count as dead), so a reused PID never keeps a dead run alive;
 * a run from another boot is `rebooted` (everything it started died with the machine) and one from
 * another host name or PID namespace is `foreign` (its PIDs mean nothing here, so it is never acted
 * upon). The registry's sweep, health's dead-run marking and the observer all judge by this.
 */
import { hostname } from 'node:os';
import { isProcessAlive, readBootId, readPidNamespace } from '@trellis/core';
import { parseRunId } from './run-id.js';
import type { RunIdentity } from './run-record.js';

/** What identifies "here": records from elsewhere are never acted upon. */
export interface HostIdentity {
  readonly bootId: string;
  readonly hostname: string;
  readonly pidNamespace: string;
  /** Tag of the home directory (see run-id.ts). */
  readonly homeTag: string;
}

let machine: Omit<HostIdentity, 'homeTag'> | undefined;

/** This host's identity for the home tagged `homeTag` (boot id, host name and namespace read once). */
export function currentIdentity(homeTag: string): HostIdentity {
  machine ??= Object.freeze({
    bootId: readBootId() ?? 'unknown',
    hostname: hostname(),
    pidNamespace: readPidNamespace('self') ?? 'unknown',
  });
  return { ...machine, homeTag };
}

export type RunVerdict = 'alive' | 'dead' | 'rebooted' | 'foreign';

/** Judges a run's host; without a run record, from the host PID and start time in the run id. */
export function judgeRun(runId: string, run: RunIdentity | undefined, here: HostIdentity): RunVerdict {
  if (run) {
    if (run.hostname !== here.hostname || run.pidNamespace !== here.pidNamespace) return 'foreign';
    if (run.bootId !== here.bootId) return 'rebooted';
    return isProcessAlive(run.hostPid, run.hostStartTime) ? 'alive' : 'dead';
  }
  const parts = parseRunId(runId);
  if (!parts) return 'foreign'; // cannot be judged, so cannot be touched
  return isProcessAlive(parts.hostPid, parts.hostStartTime) ? 'alive' : 'dead';
}
