/**
 * Kill and restart from the page. Only processes that are in the observed tree can be targeted, and
 * neither the root (nobody would restart it: stop the application instead) nor the observer's own
 * actor (the page would lose its server).
 */
import {
  exit,
  getStatus,
  isPid,
  type Pid,
  restartChild,
  type ServerStatus,
  terminateChild,
} from '@trellis/core';
import { ObserverRequestError } from './errors.js';
import type { TreeNodeView } from './snapshot.js';

export function findByPid(node: TreeNodeView | null, pid: string): TreeNodeView | undefined {
  if (node === null) return undefined;
  if (node.pid === pid) return node;
  for (const c of node.children ?? []) {
    const f = findByPid(c, pid);
    if (f) return f;
  }
  return undefined;
}

export function findChild(
  node: TreeNodeView | null,
  supervisor: string,
  id: string,
): TreeNodeView | undefined {
  if (node === null) return undefined;
  for (const c of node.children ?? []) {
    if (c.supervisor === supervisor && c.id === id) return c;
    const f = findChild(c, supervisor, id);
    if (f) return f;
  }
  return undefined;
}

const badRequest = (message: string) => new ObserverRequestError(400, 'ERR_OBSERVER_BAD_REQUEST', message);
const notInTree = (what: string) =>
  new ObserverRequestError(
    404,
    'ERR_OBSERVER_NOT_IN_TREE',
    `${what} is not in the observed tree (it may have been restarted under a new pid): reload the tree and use the current one`,
  );
const refused = (message: string) => new ObserverRequestError(409, 'ERR_OBSERVER_CONTROL_REFUSED', message);

/** Checks a kill request against the tree; returns the node to kill. */
export function checkKill(tree: TreeNodeView | null, pid: unknown): TreeNodeView {
  if (!isPid(pid))
    throw badRequest(`kill needs { pid } with a Trellis pid such as "<0.12>", got ${JSON.stringify(pid)}`);
  const node = findByPid(tree, pid);
  if (node === undefined) throw notInTree(`process ${pid}`);
  if (node.supervisor === null) {
    throw refused(`${pid} is the root supervisor: nothing would restart it; stop the application instead`);
  }
  if (node.observer) throw refused(`${pid} is the observer itself; killing it would take this page down`);
  return node;
}

/** Checks a status request against the tree; returns the node to ask. */
export function checkStatus(tree: TreeNodeView | null, pid: unknown): TreeNodeView {
  if (!isPid(pid))
    throw badRequest(`status needs { pid } with a Trellis pid such as "<0.12>", got ${JSON.stringify(pid)}`);
  const node = findByPid(tree, pid);
  if (node === undefined) throw notInTree(`process ${pid}`);
  return node;
}

/**
 * sys:get_status of a gen_server or gen_statem: its state as its formatStatus shows it. A process
 * that answers no sys requests (a supervisor, a plain actor) is refused after `timeoutMs`.
 */
export async function status(pid: string, timeoutMs: number): Promise<ServerStatus> {
  try {
    return await getStatus(pid as Pid, { timeoutMs });
  } catch (e) {
    throw refused(
      `${pid} did not answer a status request (${(e as Error).message}); only gen_servers and gen_statems answer them`,
    );
  }
}

/** `exit(pid, 'kill')`: untrappable; the supervisor restarts the child as its restart type says. */
export function kill(pid: string): void {
  exit(pid as Pid, 'kill');
}

/** Checks a restart request against the tree; returns the node to restart. */
export function checkRestart(tree: TreeNodeView | null, supervisor: unknown, id: unknown): TreeNodeView {
  if (!isPid(supervisor) || typeof id !== 'string' || id.length === 0) {
    throw badRequest(
      `restart needs { supervisor, id }: the supervisor's pid and the child's id, got ${JSON.stringify({ supervisor, id })}`,
    );
  }
  const node = findChild(tree, supervisor, id);
  if (node === undefined) throw notInTree(`child "${id}" of ${supervisor}`);
  if (node.observer) throw refused(`"${id}" is the observer itself; restarting it would take this page down`);
  if (node.restart === 'temporary') {
    throw refused(
      `"${id}" is a temporary child: terminating it removes its spec, so it cannot be restarted; kill it instead`,
    );
  }
  return node;
}

/** terminateChild + restartChild: an orderly stop (the child's shutdown spec applies), then a start. */
export async function restart(supervisor: string, id: string, timeoutMs: number): Promise<string | null> {
  try {
    await terminateChild(supervisor as Pid, id, timeoutMs);
    const pid = await restartChild(supervisor as Pid, id, timeoutMs);
    return typeof pid === 'string' ? pid : null;
  } catch (e) {
    throw new ObserverRequestError(
      409,
      'ERR_OBSERVER_CONTROL_FAILED',
      `restarting "${id}" under ${supervisor} failed: ${(e as Error).message}`,
    );
  }
}
