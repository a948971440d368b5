/**
 * `start(tree)`: runs a top-level supervisor as the application.
 *
 * On SIGINT or SIGTERM the whole tree is shut down in order (reverse start order at every level,
 * honouring each child's shutdown spec) and the process exits with code 0, calls that were in
 * flight failing cleanly. `app.stop()` stops the tree the same way and resolves: the process goes
 * on. If the top supervisor dies for any other reason (say it reached its restart intensity), the
 * process exits non-zero.
 */

import { Exit, type ExitReason, formatReason } from './exit-reason.js';
import { currentNode } from './node.js';
import type { Pid } from './pid.js';
import type { ChildSpec } from './supervisor/child-spec.js';
import {
  type StartSupervisorOptions,
  type SupervisorSpec,
  startSupervisor,
} from './supervisor/supervisor.js';

export interface StartOptions extends Omit<StartSupervisorOptions, 'link' | 'parent'> {
  /** Install SIGINT/SIGTERM handlers that stop the tree (default true). */
  readonly handleSignals?: boolean;
  /**
   * Whether the application owns the process (default true): it keeps Node alive while the tree runs,
   * exits 0 after a signal (SIGINT/SIGTERM) stopped the tree, and exits 1 when the top supervisor
   * dies on its own (restart intensity). `app.stop()` never exits the process: it resolves, and your
   * code carries on. With false, nothing keeps Node alive and nothing exits (tests, embedding).
   */
  readonly exitProcess?: boolean;
  /** Where to report how the application ended (default console.error for abnormal ends). */
  readonly log?: (line: string) => void;
  /**
   * A child spec started first in the top supervisor, e.g. `observerChild({ port: 4000 })` from
   * @trellis/observer (core does not depend on it). Started first, it sees every other child start.
   */
  readonly observer?: ChildSpec;
}

export interface Application {
  readonly pid: Pid;
  /** Stops the tree in order; resolves with the top supervisor's exit reason. */
  stop(): Promise<ExitReason>;
  /** Resolves when the top supervisor has exited, with its reason. */
  readonly done: Promise<ExitReason>;
}

/** Errors of calls that fail because the tree is stopping (see onSignal in start). */
const STOPPING_CODES = new Set([
  'ERR_POOL_CLOSED',
  'ERR_CALL_SERVER_EXITED',
  'ERR_NOPROC',
  'ERR_WORKER_EXITED',
]);

export async function start(tree: SupervisorSpec, opts: StartOptions = {}): Promise<Application> {
  const node = currentNode();
  // The node's pseudo-process is the top supervisor's parent: an exit signal from it is an order to stop.
  const spec: SupervisorSpec =
    opts.observer === undefined ? tree : { ...tree, children: [opts.observer, ...(tree.children ?? [])] };
  const pid = await startSupervisor(spec, { ...opts, parent: node.selfPid }, node);
  const done = node.exited(pid);
  let stopping = false;
  let bySignal: NodeJS.Signals | undefined;
  const stop = (): Promise<ExitReason> => {
    if (!stopping) {
      stopping = true;
      node.exit(node.selfPid, pid, Exit.shutdown());
    }
    return done;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (bySignal === undefined && !stopping && opts.exitProcess !== false) {
      bySignal = signal;
      // Calls in flight when Ctrl-C comes fail as the tree stops (a pool's queued and running calls
      // with ERR_POOL_CLOSED, a server's callers with ERR_CALL_SERVER_EXITED). Awaited in the app's
      // main module, that failure would end the process at once with a stack trace and code 1,
      // before the tree is down. The application is stopping on the user's order: report each such
      // failure in one line and exit 0 once the tree has stopped. Any other error keeps its trace
      // and makes the exit code 1.
      process.on('uncaughtException', onStoppingError);
      process.on('unhandledRejection', onStoppingError);
    }
    void stop();
  };
  const onStoppingError = (err: unknown) => {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && STOPPING_CODES.has(code)) {
      (opts.log ?? console.error)(
        `trellis: a call in flight failed as the application stopped on ${bySignal}: ${code}: ${String((err as Error).message).split('\n')[0]}`,
      );
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  };
  const handle = opts.handleSignals !== false;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  // The application owns the process: it runs until its tree ends. Actors waiting for messages hold no
  // handle of the event loop (and signal listeners do not either), so without this a tree of plain
  // actors would let Node exit at once, with code 0 and without shutting the tree down.
  const owned = opts.exitProcess !== false;
  const keepAlive = owned ? setInterval(() => {}, 2 ** 30) : undefined;
  void done.then((reason) => {
    if (keepAlive !== undefined) clearInterval(keepAlive);
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const clean = stopping && (reason.type === 'shutdown' || reason.type === 'normal');
    if (!clean) (opts.log ?? console.error)(`trellis: top supervisor ${pid} exited: ${formatReason(reason)}`);
    if (opts.exitProcess === false) {
      if (!clean) process.exitCode = 1;
    } else if (!clean) process.exit(1);
    // A signal's stop ends the process (after the errors reported above, if any); app.stop() returns.
    else if (bySignal !== undefined) setImmediate(() => process.exit(process.exitCode ?? 0));
  });
  return { pid, stop, done };
}
