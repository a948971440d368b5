/**
 * Time as an injectable dependency, so intensity windows, time-outs and backoff can be tested
 * deterministically (the model is xstate's SimulatedClock).
 *
 * `now()` is monotonic milliseconds: restart intensity and deadlines must not jump when the wall
 * clock is adjusted.
 */

export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The longest delay a Node timer honours: anything longer fires after 1 ms (with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timer longer than MAX_TIMER_MS, waited for in steps. Without it a shutdown, call or receive
 * time-out of a month would fire after 1 ms: a child would be killed at once, a call fail at once.
 */
class LongTimer {
  #t: NodeJS.Timeout;
  #unref = false;
  constructor(fn: () => void, ms: number) {
    this.#t = this.#arm(fn, ms);
  }
  #arm(fn: () => void, left: number): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        if (left > MAX_TIMER_MS) this.#t = this.#arm(fn, left - MAX_TIMER_MS);
        else fn();
      },
      Math.min(left, MAX_TIMER_MS),
    );
    if (this.#unref) t.unref();
    return t;
  }
  /** Like Timeout.unref/ref (the call table unrefs a timer while none of its calls is pending). */
  unref(): this {
    this.#unref = true;
    this.#t.unref();
    return this;
  }
  ref(): this {
    this.#unref = false;
    this.#t.ref();
    return this;
  }
  clear(): void {
    clearTimeout(this.#t);
  }
}

export const systemClock: Clock = Object.freeze({
  // The global performance (not node:perf_hooks): loaded on first use, so a fresh thread does not pay for it at boot.
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): TimerHandle =>
    ms > MAX_TIMER_MS ? new LongTimer(fn, ms) : setTimeout(fn, ms),
  clearTimeout: (h: TimerHandle) => {
    if (h instanceof LongTimer) h.clear();
    else clearTimeout(h as NodeJS.Timeout);
  },
});

interface SimTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires due timers in time order (ties in
 * creation order), setting `now()` to each timer's due time before calling it, and lets pending
 * promise callbacks run between timers so actor code observes the same interleaving as in real time.
 */
export class SimulatedClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: SimTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: SimTimer = { id: ++this.#seq, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(t);
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.#timers.indexOf(handle as SimTimer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > target) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  #earliest(): SimTimer | undefined {
    let best: SimTimer | undefined;
    for (const t of this.#timers)
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    return best;
  }
}

/** Lets queued microtasks and immediate callbacks run (several rounds, for promise chains). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
