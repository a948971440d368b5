/**
 * The targets of @trellis/health's bench figures, in one catalog (type and rules: core's
 * bench/target.ts; checked by core's test/bench-targets.test.ts). Costs are ratios to baselines
 * measured in the same run; failover times are held to the configured TTL and renew interval.
 */
import type { Target } from '../../core/bench/target.js';

export const targets = {
  leaseRenew: {
    kind: 'ratio',
    op: '<=',
    bound: 3,
    baseline: 'a bare LMDB putSync of the same record, same file',
  },
  monitorCpu: {
    kind: 'ratio',
    op: '<=',
    bound: 3,
    baseline: 'the same actors and timers without monitoring (median of per-round ratios)',
  },
  failover: {
    kind: 'protocol',
    bound: '<= TTL + one renew interval (baseline: the TTL)',
    reason: 'the configured TTL (1000 ms) and renew interval (200 ms) decide when a follower may lead',
  },
  takeoverAfterExpiry: {
    kind: 'protocol',
    bound: '<= one renew interval after the old lease expired (baseline: the renew interval)',
    reason: 'a follower tries to take over once per configured renew interval (200 ms)',
  },
} as const satisfies Record<string, Target>;
