/**
 * The health monitors of each thread, by registered name and by pid: how `heartbeat(ctx)` and
 * `findHealthMonitor()` reach a monitor of their own thread without a message.
 */
import type { Node } from '@trellis/core';

interface Listed {
  readonly name: string;
  readonly pid: string;
  readonly alive: boolean;
}

const directories = new WeakMap<Node, Map<string, Listed>>();

export function listMonitor(node: Node, m: Listed): void {
  let dir = directories.get(node);
  if (dir === undefined) {
    dir = new Map();
    directories.set(node, dir);
  }
  dir.set(m.name, m);
  dir.set(m.pid, m);
}

export function unlistMonitor(node: Node, m: Listed): void {
  const dir = directories.get(node);
  if (dir?.get(m.name) === m) dir.delete(m.name);
  if (dir?.get(m.pid) === m) dir.delete(m.pid);
}

/** The live monitor listed under `target` (name or pid) in `node`. */
export function lookupMonitor<T extends Listed>(node: Node, target: string): T | undefined {
  const m = directories.get(node)?.get(target);
  return m?.alive ? (m as T) : undefined;
}
