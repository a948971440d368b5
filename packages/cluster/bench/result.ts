import type { Target } from '../../core/bench/target.js';

/** One figure of `pnpm bench cluster` (scripts/bench.mjs prints, judges and tabulates them). */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineName?: string;
  ratio?: number;
  /** An entry of bench/targets.ts: scripts/bench.mjs renders and judges it. */
  target: Target;
  /** The suite's own verdict: needed for a protocol bound, a further condition otherwise. */
  pass?: boolean;
}
