/**
 * Benchmark suites of @trellis/core, run by the root runner (`pnpm bench core`), each in a fresh process.
 */
import { benchInThread } from './in-thread.js';
import type { BenchResult } from './result.js';
import { benchTaskPool } from './task-pool.js';
import { benchThread } from './thread.js';

export const suites: Record<string, () => Promise<BenchResult[]>> = {
  'in-thread': benchInThread,
  thread: benchThread,
  'task-pool': async () => (await benchTaskPool()).map((r) => ({ scope: 'core', ...r })),
};
