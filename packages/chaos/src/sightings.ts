/**
 * When the system under test saw a pool's worker do something (exit, be recycled), and who waits for
 * it: a fault that killed or wedged a worker waits here for the pool's event that proves it landed.
 * A waiter is woken by every new sighting and checks its own key again, so sightings of other workers
 * cost it a wake-up, never a miss.
 */
export class WorkerSightings {
  /** `pool:pid` -> performance.now() of the sighting. */
  readonly #at = new Map<string, number>();
  #waiters: (() => void)[] = [];

  see(pool: string, pid: number): void {
    this.#at.set(`${pool}:${pid}`, performance.now());
    for (const w of this.#waiters.splice(0)) w();
  }

  /** performance.now() of the sighting of `pool`'s worker `pid`; undefined after `ms` without one. */
  async wait(pool: string, pid: number, ms: number): Promise<number | undefined> {
    const key = `${pool}:${pid}`;
    const deadline = performance.now() + ms;
    while (!this.#at.has(key)) {
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.#at.get(key);
  }
}
