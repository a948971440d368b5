/**
 * Backoff between restarts, computed as Akka's BackoffSupervisor does:
 *
 *   delay(n) = min(maxMs, minMs * 2^n) * (1 + random[0,1) * randomFactor),   n = 0, 1, 2, ...
 *
 * so with 3 s and 30 s the delays are 3, 6, 12, 24, 30, 30 s. The count resets once the child has
 * stayed up for `resetAfterMs` (default minMs), or on an explicit reset.
 */
import type { BackoffOptions } from './child-spec.js';

export function backoffDelay(opts: Required<BackoffOptions>, n: number, random: () => number): number {
  const base = Math.min(opts.maxMs, opts.minMs * 2 ** Math.min(n, 60));
  // Timers count whole milliseconds; rounding also keeps 3000 * 1.1 from being 3300.0000000000005 in
  // the child_restart_scheduled events.
  return Math.round(base * (1 + random() * opts.randomFactor));
}

export class BackoffState {
  readonly opts: Required<BackoffOptions>;
  /** Consecutive restarts so far (n in the formula). */
  attempts = 0;

  constructor(opts: Required<BackoffOptions>) {
    this.opts = opts;
  }

  /** Called when the child died after running `upMs`: a stable run resets the count. */
  nextDelay(upMs: number, random: () => number): number {
    if (upMs >= this.opts.resetAfterMs) this.attempts = 0;
    return backoffDelay(this.opts, this.attempts++, random);
  }

  /** True when the restarts about to happen would exceed maxRetries. */
  exhausted(): boolean {
    return this.attempts > this.opts.maxRetries;
  }

  reset(): void {
    this.attempts = 0;
  }
}
