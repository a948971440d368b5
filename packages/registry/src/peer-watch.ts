/**
 * A running instance reaps a dead peer (issue 13, defect 2). Several hosts may share one registry
 * directory; when one dies by kill -9, its children keep running until someone sweeps. Without this
 * watch that was only the next `Registry.open`, which may be hours away.
 *
 * Every `intervalMs` the watch asks one cheap question: is any run recorded in the registry dead? That
 * is one LMDB range read of the run records and one `/proc/<pid>/stat` read per run (`judgeRun`: the
 * host's PID AND start time, so a reused PID does not keep a dead run alive and a live peer is never
 * judged dead). Only when the answer is yes does it run the full sweep (the `/proc` scan, the kills),
 * which is the same sweep as at open: it leaves live runs and foreign runs alone and checks each
 * process's identity again right before signalling it.
 *
 * Bounded: one check or sweep at a time (the timer is re-armed only after the previous one finished,
 * so a slow sweep cannot pile up), and a sweep that leaves survivors (a process in uninterruptible
 * sleep) backs off to `backoffMs` instead of retrying, and waiting out its kill time-out, every tick.
 * The timer is unref'd: the watch never keeps a process alive.
 */
import type { Clock, TimerHandle } from '@trellis/core';
import type { RegistryLogger } from './logger.js';
import type { SweepReport } from './report.js';

export interface PeerWatchOptions {
  readonly intervalMs: number;
  /** Delay after a sweep that left survivors. */
  readonly backoffMs: number;
  readonly clock: Clock;
  readonly logger: RegistryLogger;
  /** True when some other run in the registry is dead (or from a previous boot): cheap. */
  readonly anyDeadRun: () => boolean;
  /** The full sweep, serialised with every other sweep of the registry by the caller. */
  readonly sweep: () => Promise<SweepReport>;
}

export class PeerWatch {
  readonly #o: PeerWatchOptions;
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Sweeps run so far (for tests and the observer). */
  sweeps = 0;
  /** Checks run so far. */
  checks = 0;

  constructor(options: PeerWatchOptions) {
    this.#o = options;
  }

  start(): void {
    this.#arm(this.#o.intervalMs);
  }

  /** Stops the timer and waits for a check or sweep in progress, so the store can then be closed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #arm(ms: number): void {
    if (this.#stopped) return;
    const t = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#tick().finally(() => {
        this.#running = undefined;
      });
    }, ms);
    (t as { unref?: () => void }).unref?.();
    this.#timer = t;
  }

  async #tick(): Promise<void> {
    let next = this.#o.intervalMs;
    try {
      this.checks++;
      if (!this.#stopped && this.#o.anyDeadRun()) {
        this.sweeps++;
        const report = await this.#o.sweep();
        if (report.survivors.length > 0) next = this.#o.backoffMs;
      }
    } catch (err) {
      // The registry may have become unusable (disk full, file removed): say so, keep watching.
      this.#o.logger.warn(
        `trellis registry: the periodic check for dead runs failed: ${(err as Error).message}`,
        {
          error: (err as Error).message,
        },
      );
      next = this.#o.backoffMs;
    }
    this.#arm(next);
  }
}
