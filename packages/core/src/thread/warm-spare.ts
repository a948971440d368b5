/**
 * A warm spare: one thread booted ahead of need that has loaded the runtime and imported the actor's
 * module, and waits for `start`. Taking it costs one message round trip instead of a thread boot, so
 * a supervisor restarting a crashed thread actor gets it back in well under 5 ms.
 *
 * Lifetime rules (a spare is an idle thread nobody asked for yet, so it must never leak or hold the
 * process up):
 *   - its Worker is unref'ed until it is taken into use;
 *   - a new spare is booted after each start has settled (so the boot does not slow that start);
 *   - the spare is kept only while a parent that started this child is alive: the start function
 *     monitors each parent (the supervisor), and when the last one exits the spare is terminated.
 *     A supervisor that stopped for good will not restart anything; one that is itself restarted
 *     calls start again, which boots a new spare after its (cold) start;
 *   - `dispose()` terminates the spare and stops keeping one; starting still works, cold.
 */
import type { Node } from '../node.js';
import type { Pid, Ref } from '../pid.js';
import type { ThreadHandle, ThreadHub, ThreadWorkerOptions } from './hub.js';

export class WarmSpare {
  readonly #hub: ThreadHub;
  readonly #url: string;
  readonly #opts: ThreadWorkerOptions;
  #spare: ThreadHandle | undefined;
  #disposed = false;
  readonly #parents = new Map<Pid, { node: Node; ref: Ref }>();

  constructor(hub: ThreadHub, url: string, opts: ThreadWorkerOptions) {
    this.#hub = hub;
    this.#url = url;
    this.#opts = opts;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Thread id of the ready spare (the node its next root will live on), if one is ready. */
  get readyThreadId(): number | undefined {
    const s = this.#spare;
    return s !== undefined && s.state === 'ready' ? s.id : undefined;
  }

  /** Keeps the spare while `parent` lives. */
  watch(node: Node, parent: Pid): void {
    if (this.#disposed || this.#parents.has(parent)) return;
    const ref = node.monitor(() => {
      this.#parents.delete(parent);
      if (this.#parents.size === 0) this.#drop();
    }, parent);
    // The monitor may have fired at once (parent already gone); only record a live one.
    if (node.procs.has(parent) || !node.isLocal(parent)) this.#parents.set(parent, { node, ref });
  }

  /** The ready spare, taken out of the pool (undefined if none is ready). */
  take(): ThreadHandle | undefined {
    const s = this.#spare;
    if (s === undefined || s.state !== 'ready') return undefined;
    this.#spare = undefined;
    return s;
  }

  /** Boots a spare unless one exists (booting or ready) or nobody would use it. */
  refill(force = false): ThreadHandle | undefined {
    if (this.#disposed) return undefined;
    const s = this.#spare;
    if (s !== undefined && (s.state === 'booting' || s.state === 'ready')) return s;
    if (!force && this.#parents.size === 0) return undefined;
    let h: ThreadHandle;
    try {
      h = this.#hub.boot(this.#url, this.#opts, undefined);
    } catch {
      // new Worker refused the options: the cold start reports that error; no spare is kept
      return undefined;
    }
    this.#spare = h;
    void h.exited.promise.then(() => {
      if (this.#spare === h) this.#spare = undefined;
    });
    return h;
  }

  /** Boots a spare now if there is none; resolves true once one is ready (false if it failed). */
  async warm(): Promise<boolean> {
    const h = this.refill(true);
    if (h === undefined) return false;
    // Someone is waiting for this spare: keep the process up until it is ready (an unref'ed thread
    // would otherwise let Node exit under an `await start.warm()` with nothing else to do).
    h.worker.ref();
    const ok = await h.ready.promise;
    if (h.state === 'ready') h.worker.unref(); // still idle: back to not holding the process up
    return ok;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    for (const [, { node, ref }] of this.#parents) node.demonitor(ref);
    this.#parents.clear();
    await this.#drop();
  }

  async #drop(): Promise<void> {
    const s = this.#spare;
    this.#spare = undefined;
    if (s !== undefined) await this.#hub.discard(s);
  }
}
