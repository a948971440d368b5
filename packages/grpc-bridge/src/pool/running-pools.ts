/**
 * The ToolPools running in this process, so that tooling can find them without being handed each
 * one (the cluster node's status record lists their sizes this way; no `status` hook to write).
 * A pool is listed from the moment its supervisor runs until it stops.
 *
 * The list hangs on globalThis under a registered symbol: an app may load two copies of this package
 * (two versions, or ESM and a bundle), and a pool of either must still be found by either.
 */
import type { PoolStats } from './stats.js';

/** What the list holds of a pool: its name and its stats (a `ToolPool` is one). */
export interface RunningPool {
  readonly name: string;
  stats(): PoolStats;
}

const KEY = Symbol.for('trellis.grpc-bridge.running-pools');

function list(): Set<RunningPool> {
  const g = globalThis as { [KEY]?: Set<RunningPool> };
  g[KEY] ??= new Set();
  return g[KEY];
}

/** @internal the pool's supervisor runs. */
export function poolRunning(pool: RunningPool): void {
  list().add(pool);
}

/** @internal the pool's supervisor stopped. */
export function poolStopped(pool: RunningPool): void {
  list().delete(pool);
}

/** The ToolPools of this process whose supervisor runs now, in the order they started. */
export function runningPools(): readonly RunningPool[] {
  return [...list()];
}
