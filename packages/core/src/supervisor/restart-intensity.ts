/**
 * Restart intensity, as supervisor.erl keeps it: each restart records a monotonic timestamp,
 * timestamps older than `period` are dropped, and when more than `intensity` remain the supervisor
 * gives up. Intensity 0 means the first restart already ends the supervisor.
 */
export class RestartIntensity {
  readonly intensity: number;
  readonly periodMs: number;
  #restarts: number[] = [];

  constructor(intensity: number, periodMs: number) {
    this.intensity = intensity;
    this.periodMs = periodMs;
  }

  /** Records a restart at `now`; false when that exceeds the intensity (the supervisor must stop). */
  add(now: number): boolean {
    const cutoff = now - this.periodMs;
    // Timestamps are appended in time order, so the stale ones are a prefix. A restart exactly
    // `period` ago still counts: supervisor.erl keeps every R with R >= Now - Period.
    let i = 0;
    while (i < this.#restarts.length && this.#restarts[i]! < cutoff) i++;
    if (i > 0) this.#restarts.splice(0, i);
    this.#restarts.push(now);
    return this.#restarts.length <= this.intensity;
  }

  /** Restarts currently inside the window (for observers). */
  count(now: number): number {
    const cutoff = now - this.periodMs;
    return this.#restarts.filter((t) => t >= cutoff).length;
  }
}
