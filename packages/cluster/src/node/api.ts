/**
 * The process-wide functions, as OTP's `nodes()`, `monitor_node/2`, `global:register_name/2`,
 * `global:whereis_name/1`: they use the cluster node started in this process (`currentCluster()`).
 */
import type { Pid, Ref } from '@trellis/core';
import { currentCluster } from './cluster-node.js';
import type { Member } from './membership.js';
import type { NodeWatcher } from './node-watchers.js';
import type { GlobalPid } from './remote-monitors.js';

export const nodes = (): Member[] => currentCluster().nodes();
export const monitorNode = (node: string | undefined, watcher: NodeWatcher): Ref =>
  currentCluster().monitorNode(node, watcher);
export const registerGlobal = (name: string, pid: Pid): Promise<void> =>
  currentCluster().registerGlobal(name, pid);
export const unregisterGlobal = (name: string): Promise<void> => currentCluster().unregisterGlobal(name);
export const whereisGlobal = (name: string): GlobalPid | undefined => currentCluster().whereisGlobal(name);
export const callGlobal = <R = unknown>(name: string, request: unknown, timeoutMs?: number): Promise<R> =>
  currentCluster().callGlobal<R>(name, request, timeoutMs);
