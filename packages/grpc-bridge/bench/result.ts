import type { Target } from '../../core/bench/target.js';

/**
 * The shape every benchmark returns (the root runner, scripts/bench.mjs, adds the scope): a figure,
 * the raw baseline measured in the same run, their ratio, and the target it is held to.
 */
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The raw baseline measured in the same run (same unit), if the figure has one. */
  readonly baseline?: number | undefined;
  readonly baselineName?: string | undefined;
  /** value / baseline (for throughput: value / baseline as well, higher is better). */
  readonly ratio?: number | undefined;
  /**
   * What the figure is held to: an entry of bench/targets.ts (scripts/bench.mjs renders and judges
   * it). The text form is the rendering of a ratio entry, read back by the runner; payload.ts still
   * writes it (core's bench-targets test checks that the text is a catalog entry's).
   */
  readonly target: Target | `ratio ${'<=' | '>='} ${number}${string}`;
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

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Lets pending timers and I/O run between rounds, and collects garbage when exposed. */
export async function pause(ms = 50): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, ms));
}
