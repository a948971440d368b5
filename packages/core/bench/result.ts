import type { Target } from './target.js';

/**
 * The shape every benchmark returns, shared by all packages' bench runners: a figure, the raw
 * baseline measured in the same run, their ratio, and the target it is held to.
 */
export interface BenchResult {
  readonly scope: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The raw baseline measured in the same run (same unit), if the figure has one. */
  readonly baseline?: number | undefined;
  readonly baselineName?: string | undefined;
  /** value / baseline. */
  readonly ratio?: number | undefined;
  /** What the figure is held to: an entry of bench/targets.ts (scripts/bench.mjs renders and judges it). */
  readonly target: Target;
  /** A further condition of the suite's own, if any (see judgeTarget); the runner judges the target. */
  readonly pass?: boolean | undefined;
  readonly samples?: readonly number[] | undefined;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Lets pending timers and I/O run between rounds so one round's garbage does not land in the next. */
export function pause(): Promise<void> {
  // No forced gc() here: a full collection between rounds throws away optimised code and type
  // feedback, so every round would measure a cold JIT (measured: about 0.6x of the warm figure).
  return new Promise((r) => setTimeout(r, 20));
}
