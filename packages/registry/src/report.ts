/** What a sweep or an orderly stop did, process by process. */

/** `record`: found through a child record. `marker`: found by scanning `/proc` for a run id. */
export type SweptSource = 'record' | 'marker';

export interface SweptProcess {
  readonly runId: string;
  readonly source: SweptSource;
  readonly reservationId?: string;
  readonly pid?: number;
  readonly pgid?: number;
  readonly role?: string;
  readonly name?: string;
}

/** A sweep: the runs it judged, what it did to their children (as a stop does, StopReport), and what it left alone. */
export interface SweepReport extends StopReport {
  /** Nothing was signalled or removed; `killed` lists what would have been. */
  readonly dryRun: boolean;
  readonly runs: {
    /** Host dead (PID gone or PID reused, judged by start time): children reaped, records removed. */
    readonly dead: readonly string[];
    /** Host alive: never touched. */
    readonly alive: readonly string[];
    /** Recorded under another boot id: every child died with the machine; records removed untouched. */
    readonly rebooted: readonly string[];
    /** Recorded by another host name or PID namespace: PIDs not comparable, never touched. */
    readonly foreign: readonly string[];
  };
  /** Reservations that never got a PID; resolved by the marker scan (any carrier found is in `killed`). */
  readonly resolvedReservations: readonly SweptProcess[];
  /** Children of runs whose host is alive: untouched. */
  readonly skippedAlive: readonly SweptProcess[];
  /** Children recorded by another host or PID namespace: untouched. */
  readonly skippedForeign: readonly SweptProcess[];
}

/** What an orderly stop did to its run's children; a sweep reports the same and more. */
export interface StopReport {
  /** Terminated with their process group (SIGTERM, grace, SIGKILL) and confirmed gone in /proc. */
  readonly killed: readonly SweptProcess[];
  /** The part of `killed` that ignored SIGTERM and needed SIGKILL. */
  readonly forced: readonly SweptProcess[];
  /** Record dropped: the process had already exited (zombies count as exited) or the machine rebooted. */
  readonly droppedDead: readonly SweptProcess[];
  /** Record dropped: the PID now names another process (other start time or no marker); left alone. */
  readonly droppedReused: readonly SweptProcess[];
  /** Still present after SIGKILL and the kill time-out (e.g. stuck in the kernel); their records are kept. */
  readonly survivors: readonly SweptProcess[];
  readonly durationMs: number;
}

/** A one-line summary for logs. */
export function summarize(r: SweepReport | StopReport): string {
  const parts = [
    `killed ${r.killed.length}${r.forced.length > 0 ? ` (${r.forced.length} by SIGKILL)` : ''}`,
    `dropped ${r.droppedReused.length} reused PID(s), ${r.droppedDead.length} already dead`,
  ];
  if ('skippedAlive' in r) {
    if (r.resolvedReservations.length > 0)
      parts.push(`resolved ${r.resolvedReservations.length} reservation(s)`);
    parts.push(`skipped ${r.skippedAlive.length} of live runs`);
    if (r.skippedForeign.length > 0) parts.push(`${r.skippedForeign.length} foreign`);
  }
  if (r.survivors.length > 0) parts.push(`${r.survivors.length} SURVIVED SIGKILL`);
  return parts.join(', ');
}
