/**
 * The targets of @trellis/registry's bench figures, in one catalog (type and rules: core's
 * bench/target.ts; checked by core's test/bench-targets.test.ts): each a ratio to a baseline
 * measured in the same run, never an absolute time.
 */
import type { Target } from '../../core/bench/target.js';

export const targets = {
  registryOps: {
    kind: 'ratio',
    op: '<=',
    bound: 3,
    baseline: 'the same three writes (reserve + activate + untrack) on a raw lmdb database',
  },
  trackedVsBare: {
    kind: 'ratio',
    op: '<=',
    bound: 1.2,
    baseline: 'bare child_process.spawn, spawn to exit',
  },
  trackedVsUntracked: {
    kind: 'ratio',
    op: '<=',
    bound: 1.2,
    baseline: 'spawnProcess with a no-op tracker (the registry share alone)',
  },
  sweep: {
    kind: 'ratio',
    op: '<=',
    bound: 3,
    baseline: 'one /proc pass + removing 1,000 records in one raw lmdb transaction',
  },
  peerCheck: {
    kind: 'ratio',
    op: '<=',
    bound: 0.25,
    baseline: 'one /proc pass, the scan the tick avoids',
  },
  stop: {
    kind: 'ratio',
    op: '<=',
    bound: 25,
    baseline: 'bare SIGTERM + exit of the same children (the grace period is never waited for)',
  },
} as const satisfies Record<string, Target>;
