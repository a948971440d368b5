/**
 * The seam between the core and whatever records the OS processes Trellis starts.
 *
 * The core must not depend on `@trellis/registry` (the registry is itself an actor in the core's
 * supervision tree), so the core only defines this interface and a slot to install one; the registry
 * installs itself there when it opens. `spawnProcess` (spawn-process.ts) consults the slot.
 *
 * The slot is per JavaScript realm: each worker thread has its own. A worker that spawns processes
 * must install a tracker of its own (`Registry.attach` in @trellis/registry writes to the same run).
 */

/** Prefix of the argument every tracked child carries, so `/proc/<pid>/cmdline` names its run. */
export const RUN_MARKER_PREFIX = '--trellis-run-id=';

/**
 * Environment variable set in every tracked child. Descendants inherit it even when they leave the
 * process group or exec another program, so a `/proc/<pid>/environ` scan can still find them.
 */
export const RUN_ID_ENV = 'TRELLIS_RUN_ID';

/** The marker argument for a run id. */
export function runMarker(runId: string): string {
  return `${RUN_MARKER_PREFIX}${runId}`;
}

/** What is known about a child before it is spawned. */
export interface TrackedProcessInfo {
  /** What the process is for, e.g. `tool-server`, `worker`, `user`. */
  readonly role: string;
  /** A human-readable name, e.g. the supervisor child id. */
  readonly name: string;
  readonly command: string;
  /** The final argument vector, marker included. */
  readonly args: readonly string[];
}

/** What is known right after the spawn. */
export interface ProcessActivation {
  readonly pid: number;
  /** The child's process group id; equals `pid` because the child is spawned as a group leader. */
  readonly pgid: number;
  /** Field 22 of `/proc/<pid>/stat`, in clock ticks since boot. */
  readonly startTime: number;
}

export interface ProcessTracker {
  /** The current run; every tracked child carries `marker` on its command line. */
  readonly runId: string;
  /** Exactly `runMarker(runId)`. */
  readonly marker: string;
  /**
   * Records a child that is about to be spawned and returns its reservation id. The record must be
   * durable (it survives a crash of this process) when the call returns or its promise resolves,
   * because the child is spawned right after. Throws when no new child may be started (stopping).
   */
  reserve(info: TrackedProcessInfo): string | Promise<string>;
  /** Completes a reservation with the spawned child's identity. Throws when the reservation is unknown. */
  activate(reservationId: string, activation: ProcessActivation): void | Promise<void>;
  /** Forgets a child (by reservation id or PID) once it has exited. Unknown ids are ignored. */
  untrack(ref: string | number): void | Promise<void>;
}

let installed: ProcessTracker | undefined;

/** Installs (or, with `undefined`, removes) the tracker `spawnProcess` uses; returns the previous one. */
export function setProcessTracker(tracker: ProcessTracker | undefined): ProcessTracker | undefined {
  const previous = installed;
  installed = tracker;
  return previous;
}

/** The installed tracker, if any. */
export function getProcessTracker(): ProcessTracker | undefined {
  return installed;
}
