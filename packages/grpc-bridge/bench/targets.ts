/**
 * The targets of @trellis/grpc-bridge's bench figures, in one catalog (type and rules: core's
 * bench/target.ts; checked by core's test/bench-targets.test.ts). Every figure is held to a ratio to a
 * baseline measured in the same run, except the reliability bounds set by the pool's configuration
 * (heartbeat interval x misses, maxRssMb) and the count of failed calls.
 */
import type { Target } from '../../core/bench/target.js';

const BARE = 'raw grpc-js -> bare grpcio';
const SOCKET = 'raw framed Unix-socket echo, Node <-> Python';
const MEMCPY = 'raw memcpy: Buffer.copy of 100 MiB';
const NOT_CHOSEN = 'the lane design measured and not chosen';

export const targets = {
  // unary.ts: the gRPC unary path (lane: false).
  // Like with like: the pool's call carries its default 30 s budget as a gRPC deadline, and so does
  // the raw call it is held to (until 2026-12-07 it had none; what the deadline costs a raw call,
  // `rawDeadline` below, read 1.00-1.05, so this did not move the ratio: docs/benchmarks.md).
  unary: { kind: 'ratio', op: '<=', bound: 1.15, baseline: `${BARE}, same 30 s deadline` },
  unaryNoDeadline: { kind: 'ratio', op: '<=', bound: 1.15, baseline: BARE },
  unarySameWorker: {
    kind: 'ratio',
    op: '<=',
    bound: 1.05,
    baseline: 'raw grpc-js -> the same trellis_worker',
  },
  unarySync: {
    kind: 'ratio',
    op: '<=',
    bound: 1.15,
    baseline: 'raw grpc-js -> bare grpcio running the echo in run_in_executor, same 30 s deadline',
  },
  rawDeadline: {
    kind: 'diagnostic',
    reason: 'what a gRPC deadline costs a raw call',
    baseline: 'the same raw call without a deadline',
  },
  // throughput.ts: the gRPC unary path, 2 workers x 64 in flight.
  throughput: {
    kind: 'ratio',
    op: '>=',
    bound: 0.9,
    baseline: 'raw grpc-js -> 2 bare grpcio, same 30 s deadline',
  },
  throughputSameWorkers: {
    kind: 'ratio',
    op: '>=',
    bound: 0.95,
    baseline: 'raw grpc-js -> the same 2 trellis_workers',
  },
  // startup.ts
  startup: { kind: 'ratio', op: '<=', bound: 1.2, baseline: '8 bare grpcio servers spawned at once' },
  startupSdk: {
    kind: 'ratio',
    op: '<=',
    bound: 1.1,
    baseline: '8 python -m trellis_worker spawned at once',
  },
  // host-kill.ts
  hostKill: {
    kind: 'ratio',
    op: '<=',
    bound: 10,
    baseline: 'process.kill(SIGKILL) of 4 bare Python processes by hand until gone',
  },
  // parity.ts
  sessionAffinity: { kind: 'ratio', op: '<=', bound: 1.05, baseline: 'the same call without a session' },
  hostTool: { kind: 'ratio', op: '<=', bound: 1.2, baseline: 'grpc.aio stub -> raw grpc-js CallHostTool' },
  recycleFailures: { kind: 'zero', note: 'and >= 90 recycles' },
  // telemetry.ts
  telemetryP50: {
    kind: 'ratio',
    op: '<=',
    bound: 1.1,
    baseline: 'the same pool without an OpenTelemetry SDK',
  },
  telemetryThroughput: {
    kind: 'ratio',
    op: '>=',
    bound: 0.9,
    baseline: 'the same pool without an OpenTelemetry SDK',
  },
  // stderr.ts
  stderr: {
    kind: 'ratio',
    op: '<=',
    bound: 1.2,
    baseline: 'the same pipe read raw (bytes counted, nothing else)',
  },
  // lane.ts
  laneP50: { kind: 'ratio', op: '<=', bound: 2.0, baseline: SOCKET },
  laneThroughputVsGrpc: {
    kind: 'ratio',
    op: '>=',
    bound: 10,
    baseline: 'raw grpc-js unary -> 2 bare grpcio',
  },
  laneThroughputVsSocket: { kind: 'ratio', op: '>=', bound: 0.15, baseline: `${SOCKET}, 2 servers` },
  laneCpu: {
    kind: 'ratio',
    op: '<=',
    bound: 0.2,
    baseline: 'the same pool with lane: false (one gRPC unary RPC per call)',
  },
  // A diagnostic, not a second bound on the gRPC path: throughput.ts measures the same path (the
  // same pool options, the same raw baseline) in a process of its own and holds it to >= 0.9
  // (`throughput`). Here the arm is one of six sharing each round, in a process with two more pools
  // and four more servers; it was held to >= 0.9 since the lane landed (21c8439) and never met it:
  // 0.80 in its first recorded run (4614f8a, where the ratio of the medians read 1.22), then 0.98,
  // 0.77, 0.81, 0.92, 0.79, 0.89, 0.86 (docs/benchmarks.md, "The rows that still printed no").
  laneOffThroughput: {
    kind: 'diagnostic',
    reason: 'the gRPC unary path among the lane arms; its bound is the throughput suite row',
    baseline: 'raw grpc-js unary -> 2 bare grpcio',
  },
  bidiP50: { kind: 'diagnostic', reason: NOT_CHOSEN },
  bidiThroughput: { kind: 'diagnostic', reason: NOT_CHOSEN },
  // payload.ts
  payload: {
    kind: 'ratio',
    op: '>=',
    bound: 0.6,
    baseline: MEMCPY,
    note: '2 GB/s against the 3.25 GB/s memcpy of the issue',
  },
  payloadReadPath: {
    kind: 'diagnostic',
    reason: 'the read path, what a host without the mapping addon or over maxMappedBytes gets',
    baseline: MEMCPY,
  },
  payloadFresh: {
    kind: 'diagnostic',
    reason:
      'a new memfd for every result (no two results of one size, so the worker reuses none): what the first result of a size costs',
    baseline: MEMCPY,
  },
  // reliability.ts
  // It was "median <= 1000 ms" (absolute). Its first same-run readings (2026-12-07, busy box) were
  // 6.5x with a cgroup per worker and 3.8x without (20.8 ms and 15.6 ms against 3.0 and 3.9 ms),
  // per-round ratios from 1.4 to 22: a kill -9 until processes are gone from /proc, timed to the
  // millisecond on a loaded box, spreads like the host-kill figure's, and takes its bound, 10. A 5
  // set from the old absolute readings (12 ms against another run's 4.2 ms) failed the first run.
  descendantReap: {
    kind: 'ratio',
    op: '<=',
    bound: 10,
    baseline: 'process.kill(SIGKILL) of 4 bare Python processes by hand until gone',
  },
  hungWorker: {
    kind: 'protocol',
    bound: 'every sample <= (misses + 1) x interval = 8000 ms',
    reason: 'the heartbeat interval (2000 ms) and misses (3) configured on the pool',
  },
  memoryLimit: {
    kind: 'protocol',
    bound: 'max <= maxRssMb + 10% = 330 MiB',
    reason: 'the maxRssMb (300) configured on the pool, plus one sampling interval of growth',
  },
} as const satisfies Record<string, Target>;
