/**
 * The targets of @trellis/cluster's bench figures, in one catalog (type and rules: core's
 * bench/target.ts; checked by core's test/bench-targets.test.ts). Latencies and capacity are ratios
 * to baselines measured in the same run; failover and detection times are held to the configured
 * lease TTLs and renew intervals (protocol bounds); safety properties are counts that must be 0.
 */
import type { Target } from '../../core/bench/target.js';

export const MTLS_BARE = 'raw grpc-js -> bare grpcio, mTLS, same veth';

export const targets = {
  fencedWrite: { kind: 'ratio', op: '<=', bound: 1.2, baseline: 'raw etcd txn, same compare' },
  failover: {
    kind: 'protocol',
    bound: '<= TTL + one renew interval',
    reason: "the lease's configured TTL and renew interval decide when another node may take over",
  },
  nodeDown: {
    kind: 'protocol',
    bound: '<= member TTL + 0.5 s',
    reason: "the member lease's configured TTL; the 0.5 s is etcd's lease expiry and the watch delivery",
  },
  globalCall: { kind: 'ratio', op: '<=', bound: 1.2, baseline: 'bare grpc-js unary, same processes' },
  leaderOverlap: { kind: 'zero' },
  stepDownGap: {
    kind: 'protocol',
    bound: '> 0 in every trial',
    reason: 'safety, not speed: the old leader steps down before the new one is granted',
  },
  lateWrites: { kind: 'zero' },
  rawMtls: { kind: 'diagnostic', reason: 'the baseline of the remote pool p50 (<= 1.15x of it)' },
  // Like with like: the pool's call carries its default 30 s budget as a gRPC deadline, and so does
  // the raw call it is held to (until 2026-12-07 it had none; docs/benchmarks.md, "The rows that
  // still printed no").
  remoteUnary: { kind: 'ratio', op: '<=', bound: 1.15, baseline: `${MTLS_BARE}, same 30 s deadline` },
  remoteUnaryNoDeadline: { kind: 'diagnostic', reason: 'the cost of the deadline' },
  remoteUnaryTsSide: { kind: 'diagnostic', reason: 'the TypeScript side alone' },
  capacity: {
    kind: 'ratio',
    op: '>=',
    bound: 1.8,
    baseline: '1 node x 4 workers, same tool, same callers',
  },
  routeAround: {
    kind: 'protocol',
    bound: '<= member-lease TTL',
    reason: "the member lease's configured TTL decides when a dead node's workers are dropped",
  },
} as const satisfies Record<string, Target>;
