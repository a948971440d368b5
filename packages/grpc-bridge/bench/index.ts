/**
 * Benchmark suites of @trellis/grpc-bridge, run by the root runner (`pnpm bench bridge`), each in a
 * fresh process. Every figure is a ratio to a raw baseline measured in the same run, except the
 * reliability bounds set by the pool's configuration and the count of failed calls (bench/targets.ts).
 */
import { benchHostKill } from './host-kill.js';
import { benchLane } from './lane.js';
import { benchHostTool, benchRecycle, benchSessionAffinity } from './parity.js';
import { benchPayload } from './payload.js';
import { benchDescendantReap, benchHungWorker, benchMemoryLimit } from './reliability.js';
import type { BenchResult } from './result.js';
import { benchStartup } from './startup.js';
import { benchStderr } from './stderr.js';
import { benchTelemetry } from './telemetry.js';
import { benchThroughput } from './throughput.js';
import { benchUnary } from './unary.js';

export const suites: Record<string, () => Promise<BenchResult[]>> = {
  lane: benchLane,
  payload: benchPayload,
  unary: benchUnary,
  throughput: benchThroughput,
  startup: benchStartup,
  'host-kill': benchHostKill,
  'session-affinity': benchSessionAffinity,
  'host-tool': benchHostTool,
  recycle: benchRecycle,
  stderr: benchStderr,
  telemetry: benchTelemetry,
  'descendant-reap': benchDescendantReap,
  'hung-worker': benchHungWorker,
  'memory-limit': benchMemoryLimit,
};
