/**
 * A `ViaRegistry` over this thread's processes: the simplest registry the `{ via, name }` contract
 * allows, and the reference for writing one. Unlike core's own names (one per process, OTP's
 * register/2), a via registry may give one process several names, as OTP's `global` does.
 *
 * A name is freed when its holder exits (the registry monitors it), as every OTP registry does.
 */
import { call as coreCall } from '../actor.js';
import { currentNode, NameTakenError, type Node, NoProcError } from '../node.js';
import type { Pid, Ref } from '../pid.js';
import type { ViaRegistry } from './via.js';

export class LocalViaRegistry implements ViaRegistry {
  readonly #names = new Map<string, { pid: Pid; ref: Ref }>();
  readonly #node: Node;

  constructor(node: Node = currentNode()) {
    this.#node = node;
  }

  async registerName(name: string, pid: Pid): Promise<void> {
    const held = this.#names.get(name);
    if (held !== undefined) {
      if (held.pid === pid) return;
      throw new NameTakenError(name, held.pid);
    }
    const ref = this.#node.monitor(() => {
      if (this.#names.get(name)?.ref === ref) this.#names.delete(name);
    }, pid);
    // The monitor fires at once (synchronously) for a pid that is already gone: nothing to hold then.
    if (!this.#node.procs.has(pid) && this.#node.isLocal(pid))
      throw new NoProcError(`register "${name}" for ${pid}`);
    this.#names.set(name, { pid, ref });
  }

  async unregisterName(name: string): Promise<void> {
    const held = this.#names.get(name);
    if (held === undefined) return;
    this.#names.delete(name);
    this.#node.demonitor(held.ref);
  }

  async whereisName(name: string): Promise<Pid | undefined> {
    return this.#names.get(name)?.pid;
  }

  async send(name: string, message: unknown): Promise<void> {
    const held = this.#names.get(name);
    if (held === undefined) throw new NoProcError(`send to "${name}" (nobody holds it in this registry)`);
    this.#node.send(held.pid, message);
  }

  call(name: string, request: unknown, timeoutMs: number): Promise<unknown> {
    const held = this.#names.get(name);
    if (held === undefined)
      return Promise.reject(new NoProcError(`call to "${name}" (nobody holds it in this registry)`));
    return coreCall(held.pid, request, timeoutMs);
  }
}
