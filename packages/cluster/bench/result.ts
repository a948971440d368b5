/** One figure of `pnpm bench cluster` (scripts/bench.mjs prints and tabulates them). */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineName?: string;
  ratio?: number;
  target: string;
  pass: boolean;
}
