/**
 * Benchmark suites of @trellis/core, run by the root runner (`pnpm bench core`), each in a fresh process.
 */
import { benchInThreadCalls, benchInThreadRestart, benchInThreadSend } from './in-thread.js';
import { benchGenStatem, benchSendRequest } from './otp.js';
import type { BenchResult } from './result.js';
import { benchTaskPool } from './task-pool.js';
import { benchThread } from './thread.js';

export const suites: Record<string, () => Promise<BenchResult[]>> = {
  // Each suite runs in a fresh process: the calls figure is not measured in a heap left by 1M sends.
  'in-thread-send': benchInThreadSend,
  'in-thread-calls': benchInThreadCalls,
  'in-thread-restart': benchInThreadRestart,
  'gen-statem': benchGenStatem,
  'send-request': benchSendRequest,
  thread: benchThread,
  'task-pool': async () => (await benchTaskPool()).map((r) => ({ scope: 'core', ...r })),
};
