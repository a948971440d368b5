/**
 * `start(tree)`: runs a top-level supervisor as the application.
 *
 * On SIGINT or SIGTERM the whole tree is shut down in order (reverse start order at every level,
 * honouring each child's shutdown spec) and the process exits with code 0. If the top supervisor
 * dies for any other reason (say it reached its restart intensity), the process exits non-zero.
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
  /** Call process.exit when the tree ends (default true; tests pass false). */
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

export async function start(tree: SupervisorSpec, opts: StartOptions = {}): Promise<Application> {
  const node = currentNode();
  // The node's pseudo-process is the top supervisor's parent: an exit signal from it is an order to stop.
  const spec: SupervisorSpec =
    opts.observer === undefined ? tree : { ...tree, children: [opts.observer, ...(tree.children ?? [])] };
  const pid = await startSupervisor(spec, { ...opts, parent: node.selfPid }, node);
  const done = node.exited(pid);
  let stopping = false;
  const stop = (): Promise<ExitReason> => {
    if (!stopping) {
      stopping = true;
      node.exit(node.selfPid, pid, Exit.shutdown());
    }
    return done;
  };
  const onSignal = () => void stop();
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
    if (opts.exitProcess !== false) process.exit(clean ? 0 : 1);
    else if (!clean) process.exitCode = 1;
  });
  return { pid, stop, done };
}
