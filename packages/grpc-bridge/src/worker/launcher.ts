/**
 * Concurrent start-up of a pool's workers.
 *
 * A supervisor starts its children one after another, each start awaiting the child's init, and a
 * worker's init awaits its Python process's readiness (~0.2 s of imports). Started that way, N
 * workers would take N times as long. So before the pool's supervisor starts its children, the
 * Launcher spawns all N processes at once; each PythonWorker's init then adopts the process of its
 * slot, already starting or ready, and the supervisor's sequential starts cost little more than
 * the slowest process. A restarted worker (nothing pre-spawned for it) launches its own.
 *
 * Processes nobody adopted (the pool failed to start, or stopped meanwhile) are killed by
 * `discard()`: until adopted, the Launcher owns them.
 */
import { type WorkerLaunchOptions, WorkerProcess } from './worker-process.js';

/** How to start the process of a slot (the pool's launch options: socket, tools, environment...). */
export type LaunchOptionsFor = (slot: number) => WorkerLaunchOptions;

export class Launcher {
  readonly #optionsFor: LaunchOptionsFor;
  readonly #pending = new Map<number, Promise<WorkerProcess>>();

  constructor(optionsFor: LaunchOptionsFor) {
    this.#optionsFor = optionsFor;
  }

  /** Starts one process per slot, all at once. */
  prespawn(slots: readonly number[]): void {
    for (const slot of slots) {
      const p = WorkerProcess.launch(this.#optionsFor(slot));
      // Consumed by acquire() or discard(); until then a failure must not be an unhandled rejection.
      p.catch(() => {});
      this.#pending.set(slot, p);
    }
  }

  /** The slot's pre-spawned process, or a new one. Resolves when it is ready. */
  acquire(slot: number): Promise<WorkerProcess> {
    const p = this.#pending.get(slot);
    if (p !== undefined) {
      this.#pending.delete(slot);
      return p;
    }
    return WorkerProcess.launch(this.#optionsFor(slot));
  }

  /** Kills every process not adopted yet and waits until they are gone. */
  async discard(): Promise<void> {
    const left = [...this.#pending.values()];
    this.#pending.clear();
    await Promise.all(
      left.map((p) =>
        p.then(
          async (wp) => {
            wp.kill();
            await wp.exited;
            wp.close();
          },
          () => {}, // never became ready: launch() already killed it
        ),
      ),
    );
  }
}
