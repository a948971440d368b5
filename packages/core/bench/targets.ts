/**
 * The targets of @trellis/core's bench figures, in one catalog (see target.ts): every one a ratio to
 * a baseline measured in the same run. Each bound says why it is where it is: the history of its
 * ratio in docs/benchmarks.md (`git log -p docs/benchmarks.md`), with headroom for a loaded 2-core
 * box, and tight enough that the figure getting 2x slower fails.
 */
import type { Target } from './target.js';

export const targets = {
  inThreadSend: {
    kind: 'ratio',
    op: '>=',
    bound: 0.33,
    baseline: 'bare array + microtask mailbox',
  },
  // History (1 in flight, value / bare mailbox): 0.349, 0.298, 0.429 (2026-11-23; the last is the
  // code of today), 0.41-0.45 in three runs on 2026-12-07 with up to 7 helpers on the box. 0.25 keeps
  // a fifth of headroom under the worst reading (0.298) and fails a 2x slowdown of today's 0.43.
  // It was "1,000,000 call/s" (absolute), then 0.37 (that floor against the bare mailbox of one
  // day), which two of the three readings of 2026-11-23 would have failed.
  inThreadCalls1: {
    kind: 'ratio',
    op: '>=',
    bound: 0.25,
    baseline: 'bare mailbox answering a promise',
  },
  // History (64 in flight): 0.216, 0.153, 0.248 (2026-11-23), 0.22-0.26 today. 0.13 sits under the
  // worst reading (0.153) and above half of today's figure (0.124 would fail).
  inThreadCalls64: {
    kind: 'ratio',
    op: '>=',
    bound: 0.13,
    baseline: 'bare mailbox answering a promise',
  },
  // History (restart p50 / fresh startServer p50): 5.74, 6.36, 5.68 (2026-11-23), 5.5-6.2 today.
  // 9 is 1.4x the worst reading and fails a 2x slower restart (11.4); the 15 of the first ratio
  // (50 us against one day's 3.2 us start) would have let a 2.5x regression through.
  inThreadRestart: {
    kind: 'ratio',
    op: '<=',
    bound: 9,
    baseline: 'startServer of a fresh gen_server, p50',
  },
  oneWay: { kind: 'ratio', op: '>=', bound: 1.0, baseline: 'postMessage to a bare counting worker' },
  callRtt: { kind: 'ratio', op: '<=', bound: 1.3, baseline: 'postMessage echo round trip p50' },
  spawn: { kind: 'ratio', op: '<=', bound: 1.1, baseline: 'new Worker(file) -> first message p50' },
  // History (warm restart p50 / cold new Worker p50): 0.044, 0.041, 0.042 (2026-11-23), 0.04-0.05
  // today. 0.07 is 1.5x the worst reading and fails a 2x slower warm restart (0.084); the 0.14 of
  // the first ratio (5 ms against one day's 35.5 ms) would have let a 3x regression through.
  warmRestart: {
    kind: 'ratio',
    op: '<=',
    bound: 0.07,
    baseline: 'new Worker(file) -> first message p50',
  },
  taskPool: { kind: 'ratio', op: '>=', bound: 0.9, baseline: 'raw piscina, same tasks' },
  genStatem: { kind: 'ratio', op: '>=', bound: 0.5, baseline: 'gen_server calls, same run' },
  sendRequest: { kind: 'ratio', op: '>=', bound: 1, baseline: '64 parallel calls (Promise.all), same run' },
} as const satisfies Record<string, Target>;
