/**
 * The `cluster` registry of `{ via: 'cluster', name }` names (OTP's `{via, global, Name}`): core's
 * `call`, `cast`, `send`, `whereisVia` and the `name` option of `serverChild` route through it to the
 * global names of the cluster node. Registered under 'cluster' by the node's child spec.
 */
import type { Pid, ViaRegistry } from '@trellis/core';
import type { ClusterNode } from './cluster-node.js';

export class ClusterViaRegistry implements ViaRegistry {
  readonly #node: ClusterNode;

  constructor(node: ClusterNode) {
    this.#node = node;
  }

  registerName(name: string, pid: Pid): Promise<void> {
    return this.#node.registerGlobal(name, pid);
  }

  unregisterName(name: string): Promise<void> {
    return this.#node.unregisterGlobal(name);
  }

  /** The holder's pid when it lives in this Node.js process (the contract), else undefined. */
  async whereisName(name: string): Promise<Pid | undefined> {
    const g = this.#node.whereisGlobal(name);
    return g !== undefined && g.node === this.#node.node ? g.pid : undefined;
  }

  send(name: string, message: unknown): Promise<void> {
    return this.#node.sendGlobal(name, message);
  }

  call(name: string, request: unknown, timeoutMs: number): Promise<unknown> {
    return this.#node.callGlobal(name, request, timeoutMs);
  }
}
