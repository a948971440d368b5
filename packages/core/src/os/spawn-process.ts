/**
 * `spawnProcess`: the one way Trellis starts an OS process, so that every child is accounted for.
 *
 * With a `ProcessTracker` installed (the registry installs itself), a spawn is:
 *   1. reserve: a durable record is written BEFORE the process exists, so a crash from here on leaves
 *      something the next sweep can resolve (a reservation without a PID is resolved by scanning
 *      `/proc` for the run marker the child carries);
 *   2. spawn: in its own process group (`detached: true`, which makes it a session and group leader),
 *      with the run marker argument on its command line and `TRELLIS_RUN_ID` in its environment;
 *   3. activate: PID, process group id and start time (from `/proc/<pid>/stat`) are recorded;
 *   4. untrack: when the child exits, its record is removed; `exited` resolves after that.
 *
 * Without a tracker the process is still spawned in its own group and can be stopped through the
 * handle, but nothing records it: a crash of this process would leave it running. Install a tracker
 * (open a Registry) before spawning anything that must not be orphaned.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { type Clock, systemClock } from '../clock.js';
import { InvalidOptionsError, TrellisError } from '../errors.js';
import {
  getProcessTracker,
  type ProcessActivation,
  type ProcessTracker,
  RUN_ID_ENV,
} from './process-tracker.js';
import { listProcessGroupMembers, readProcStat } from './procfs.js';

export const SPAWN_PROCESS_DEFAULTS = Object.freeze({
  role: 'process',
  /** Time between SIGTERM and SIGKILL in `stop()`. */
  graceMs: 5000,
  /** How long to wait for a group to disappear after SIGKILL before giving up. */
  killTimeoutMs: 5000,
  /** Poll interval while waiting for a group to disappear. */
  pollMs: 20,
});

/** Where the run marker goes in the child's argument vector. */
export type MarkerPlacement = 'append' | ((args: readonly string[], marker: string) => string[]);

export interface SpawnProcessOptions extends Omit<SpawnOptions, 'detached'> {
  /** Recorded with the child; defaults to `process`. */
  role?: string;
  /** Recorded with the child; defaults to the command's base name. */
  name?: string;
  /**
   * Where to put the marker argument (default `append`). A function receives the arguments and the
   * marker and must return arguments containing the marker as one whole element, e.g. to put it
   * before a `--` that the program treats specially.
   */
  marker?: MarkerPlacement;
  /** The tracker to use; defaults to the installed one. `null` spawns untracked on purpose. */
  tracker?: ProcessTracker | null;
  /** Clock for `stop()` timing (tests inject a simulated one). */
  clock?: Clock;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StopProcessOptions {
  /** Time between SIGTERM and SIGKILL; default `SPAWN_PROCESS_DEFAULTS.graceMs`. */
  graceMs?: number;
}

export interface ProcessHandle {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Process group id (equal to `pid`): signals sent through the handle reach the whole group. */
  readonly pgid: number;
  /** Clock ticks since boot (field 22 of `/proc/<pid>/stat`). */
  readonly startTime: number;
  /** The run the child belongs to; `undefined` when spawned untracked. */
  readonly runId: string | undefined;
  readonly reservationId: string | undefined;
  /** True once the group leader has exited. */
  readonly hasExited: boolean;
  /** Resolves when the child has exited and its record has been removed. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** Sends a signal to the whole process group; false when nothing was signalled. */
  kill(signal?: NodeJS.Signals | number): boolean;
  /** SIGTERM to the group, wait up to the grace period, then SIGKILL; resolves when the group is gone. */
  stop(options?: StopProcessOptions): Promise<ProcessExit>;
}

/** The OS refused to start the process (missing executable, permissions, ...). */
export class SpawnFailedError extends TrellisError {
  constructor(command: string, reason: string, cause?: unknown) {
    super(
      'ERR_SPAWN_FAILED',
      `could not start "${command}": ${reason}; check that the command exists, is executable and is on PATH (or pass an absolute path)`,
      { cause, details: { command } },
    );
  }
}

/** Bad arguments to `spawnProcess`. */
export class InvalidSpawnOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_SPAWN_OPTIONS';
}

/** Starts a tracked child process in its own process group. See the module comment. */
export async function spawnProcess(
  command: string,
  args: readonly string[] = [],
  options: SpawnProcessOptions = {},
): Promise<ProcessHandle> {
  const { role, name, marker: placement, tracker: chosen, clock, ...spawnOptions } = options;
  if (typeof command !== 'string' || command.length === 0) {
    throw new InvalidSpawnOptionsError('spawnProcess needs a non-empty command string, e.g. "/bin/sleep"');
  }
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
    throw new InvalidSpawnOptionsError('spawnProcess args must be an array of strings, e.g. ["30"]');
  }
  const tracker = chosen === undefined ? getProcessTracker() : (chosen ?? undefined);
  const finalArgs = tracker ? placeMarker(args, tracker.marker, placement) : [...args];
  const env = tracker
    ? { ...(spawnOptions.env ?? process.env), [RUN_ID_ENV]: tracker.runId }
    : spawnOptions.env;

  const reservationId = tracker
    ? await tracker.reserve({
        role: role ?? SPAWN_PROCESS_DEFAULTS.role,
        name: name ?? baseName(command),
        command,
        args: finalArgs,
      })
    : undefined;
  const release = async (): Promise<void> => {
    if (tracker && reservationId !== undefined) await tracker.untrack(reservationId);
  };

  let child: ChildProcess;
  try {
    child = spawn(command, finalArgs, { ...spawnOptions, env, detached: true });
  } catch (err) {
    await release();
    throw new SpawnFailedError(command, (err as Error).message, err);
  }
  // Both listeners go on before any await: 'error' and 'exit' are emitted from later event-loop turns.
  let spawnError: Error | undefined;
  const onSpawnError = (err: Error): void => {
    spawnError = err;
  };
  child.on('error', onSpawnError);
  const state = { exited: false };
  const exitPromise = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      // Set synchronously: from here on the PID may be reaped and reused, see `kill`.
      state.exited = true;
      resolve({ code, signal });
    });
  });

  const pid = child.pid;
  if (pid === undefined) {
    const err = spawnError ?? (await new Promise<Error>((r) => child.once('error', r)));
    child.off('error', onSpawnError);
    await release();
    throw new SpawnFailedError(command, err.message, err);
  }
  child.off('error', onSpawnError);

  // Read synchronously, before yielding to the event loop: libuv reaps children only from the loop,
  // so even a child that already exited is still here (as a zombie) with its real start time.
  const st = readProcStat(pid);
  if (!st) {
    killGroup(pid, 'SIGKILL');
    await release();
    throw new SpawnFailedError(command, `/proc/${pid}/stat is unreadable; spawnProcess needs Linux /proc`);
  }
  const activation: ProcessActivation = { pid, pgid: st.pgid, startTime: st.startTime };
  if (tracker && reservationId !== undefined) {
    try {
      await tracker.activate(reservationId, activation);
    } catch (err) {
      // The tracker refused (e.g. the registry is stopping): an unrecorded child must not survive.
      killGroup(st.pgid, 'SIGKILL');
      await settleWithin(exitPromise, SPAWN_PROCESS_DEFAULTS.killTimeoutMs, clock ?? systemClock);
      await release();
      throw err;
    }
  }

  const exited = exitPromise.then(async (info) => {
    try {
      await release();
    } catch {
      // The tracker is closed or failed: its own sweep resolves the record; the exit still happened.
    }
    return info;
  });
  return new SpawnedProcess(
    child,
    activation,
    tracker?.runId,
    reservationId,
    exited,
    state,
    clock ?? systemClock,
  );
}

class SpawnedProcess implements ProcessHandle {
  readonly pid: number;
  readonly pgid: number;
  readonly startTime: number;

  constructor(
    readonly child: ChildProcess,
    activation: ProcessActivation,
    readonly runId: string | undefined,
    readonly reservationId: string | undefined,
    readonly exited: Promise<ProcessExit>,
    private readonly state: { exited: boolean },
    private readonly clock: Clock,
  ) {
    this.pid = activation.pid;
    this.pgid = activation.pgid;
    this.startTime = activation.startTime;
  }

  get hasExited(): boolean {
    return this.state.exited;
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    // While the leader is unreaped its PID (and so the group id) cannot be reused, so signalling the
    // group is safe. After it is reaped, the group id stays reserved only while members remain.
    if (this.state.exited && !this.#groupHasMembers()) return false;
    return killGroup(this.pgid, signal);
  }

  async stop(options: StopProcessOptions = {}): Promise<ProcessExit> {
    const graceMs = options.graceMs ?? SPAWN_PROCESS_DEFAULTS.graceMs;
    if (!(Number.isFinite(graceMs) && graceMs >= 0)) {
      throw new InvalidSpawnOptionsError(`stop(): graceMs must be a number >= 0, got ${String(graceMs)}`);
    }
    const gone = (): boolean => this.state.exited && !this.#groupHasMembers();
    this.kill('SIGTERM');
    if (!(await pollUntil(gone, graceMs, this.clock))) {
      this.kill('SIGKILL');
      await pollUntil(gone, SPAWN_PROCESS_DEFAULTS.killTimeoutMs, this.clock);
    }
    return this.exited;
  }

  #groupHasMembers(): boolean {
    return listProcessGroupMembers(this.pgid).length > 0;
  }
}

function placeMarker(
  args: readonly string[],
  marker: string,
  placement: MarkerPlacement | undefined,
): string[] {
  if (placement === undefined || placement === 'append') return [...args, marker];
  if (typeof placement !== 'function') {
    throw new InvalidSpawnOptionsError(
      `spawnProcess option "marker" must be "append" or a function, got ${String(placement)}`,
    );
  }
  const out = placement(args, marker);
  if (!Array.isArray(out) || !out.includes(marker) || out.some((a) => typeof a !== 'string')) {
    throw new InvalidSpawnOptionsError(
      `the "marker" function must return the arguments with "${marker}" as one whole element; without it the registry cannot recognise the child`,
      { marker },
    );
  }
  return out;
}

/** Sends a signal to a process group; false when the group no longer exists. */
function killGroup(pgid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function baseName(command: string): string {
  const i = command.lastIndexOf('/');
  return i >= 0 ? command.slice(i + 1) : command;
}

function delay(clock: Clock, ms: number): Promise<void> {
  return new Promise((r) => clock.setTimeout(r, ms));
}

/** Waits for `p` at most `ms`; the timer is cleared either way so it does not keep the process alive. */
async function settleWithin(p: Promise<unknown>, ms: number, clock: Clock): Promise<void> {
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = clock.setTimeout(r, ms)))]);
  if (timer !== undefined) clock.clearTimeout(timer);
}

/** Polls `cond` until true or `timeoutMs` passes; bounded in time and in rounds. */
async function pollUntil(cond: () => boolean, timeoutMs: number, clock: Clock): Promise<boolean> {
  const pollMs = SPAWN_PROCESS_DEFAULTS.pollMs;
  const deadline = clock.now() + timeoutMs;
  const maxRounds = Math.ceil(timeoutMs / pollMs) + 2;
  for (let round = 0; round <= maxRounds; round++) {
    if (cond()) return true;
    const left = deadline - clock.now();
    if (left <= 0) break;
    await delay(clock, Math.min(pollMs, left));
  }
  return cond();
}
