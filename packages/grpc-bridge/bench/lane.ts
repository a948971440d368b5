/**
 * The call lane (issue 16), every figure a ratio to a raw baseline measured in the same run, in
 * rounds that alternate which side goes first (the box is shared and noisy; medians of ratios):
 *
 *   p50, 1 call in flight        pool.call over the lane vs a raw framed Unix-socket echo between
 *                                the same two kinds of process (bare_lane_server.py, no SDK): the
 *                                physical floor. Target <= 2.0x.
 *   throughput, 2 x 64 in flight pool (2 workers, the lane) vs raw grpc-js unary to 2 bare grpcio
 *                                servers (>= 10x), and vs the raw Unix-socket echo over 2 sockets
 *                                (>= 0.15x).
 *   host CPU per call            user+sys of this process per call, the lane vs the same pool with
 *                                `lane: false` (one gRPC unary RPC per call, the path before the
 *                                lane), in the throughput run. Target <= 0.2x.
 *   candidates (diagnostic)      the lane design not chosen: one grpc-js <-> grpc.aio bidi stream,
 *                                one call per message and 64 calls batched per message, against the
 *                                same raw Unix-socket figures.
 *
 * Run alone: `node packages/grpc-bridge/dist/bench/lane.js` (prints JSON).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ToolPool } from '../src/index.js';
import { BENCH_TOOLS, rawCall, rawClient, socketDir, startBare } from './bare.js';
import { RawBidiEcho, RawSocketEcho, startBareLane } from './raw-lane.js';
import { type BenchResult, median, pause, percentile, round3 } from './result.js';
import { targets } from './targets.js';

const ROUNDS = 5;
/** Throughput rounds: more than the latency ones, since a rate over a few seconds swings with load. */
const RATE_ROUNDS = 9;
const LAT_CALLS = 1500;
const RATE_CALLS = 8000;
/** The gRPC unary arms run at 1-3 k calls/s: fewer calls keep a round of them near a second or two. */
const GRPC_RATE_CALLS = 3000;
const IN_FLIGHT = 64;
const ARGS = { value: 'x'.repeat(64) };

type Once = (i: number) => Promise<unknown>;

async function p50(n: number, once: Once): Promise<number> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once(i);
    lat.push(performance.now() - t);
  }
  return percentile(lat, 50) * 1000;
}

/** Calls per second with IN_FLIGHT callers sharing n calls, and host CPU (us) per call. */
async function rate(n: number, once: Once): Promise<{ rate: number; cpuUs: number }> {
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await once(next++);
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { rate: (n / ms) * 1000, cpuUs: (cpu.user + cpu.system) / n };
}

interface Pair {
  values: number[];
  bases: number[];
}

/** Runs `a` and `b` ROUNDS times, alternating which goes first. */
async function rounds(a: () => Promise<number>, b: () => Promise<number>): Promise<Pair> {
  const values: number[] = [];
  const bases: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await pause();
    if (r % 2 === 0) {
      values.push(await a());
      bases.push(await b());
    } else {
      bases.push(await b());
      values.push(await a());
    }
  }
  return { values, bases };
}

function result(
  name: string,
  unit: string,
  { values, bases }: Pair,
  baselineName: string,
  target: (typeof targets)[keyof typeof targets],
): BenchResult {
  const ratios = values.map((v, i) => v / bases[i]!);
  const ratio = median(ratios);
  return {
    name,
    value: round3(median(values)),
    unit,
    baseline: round3(median(bases)),
    baselineName,
    ratio: round3(ratio),
    target,
    samples: ratios.map(round3),
  };
}

export async function benchLane(): Promise<BenchResult[]> {
  const sockets = socketDir();
  const bareLanes = await Promise.all(
    [0, 1].map((i) => startBareLane(join(sockets.dir, `g${i}.sock`), join(sockets.dir, `l${i}.sock`))),
  );
  const bares = await Promise.all([0, 1].map((i) => startBare(join(sockets.dir, `bare-${i}.sock`))));
  const rawSockets = await Promise.all(bareLanes.map((b) => RawSocketEcho.connect(b.socketPath)));
  const bidi = bareLanes.map((b) => new RawBidiEcho(b.grpcAddress, false));
  const bidiBatched = bareLanes.map((b) => new RawBidiEcho(b.grpcAddress, true));
  const grpcClients = await Promise.all(bares.map((b) => rawClient(b.address)));
  const common = { tools: BENCH_TOOLS, heartbeatIntervalMs: 60_000 };
  const lane1 = await ToolPool.start({ ...common, size: 1, name: 'bench-lane-1' });
  const lane2 = await ToolPool.start({
    ...common,
    size: 2,
    concurrency: 32,
    maxConcurrentPerWorker: 32,
    name: 'bench-lane-2',
  });
  const unary2 = await ToolPool.start({
    ...common,
    size: 2,
    concurrency: 32,
    maxConcurrentPerWorker: 32,
    name: 'bench-unary-2',
    lane: false,
  });
  try {
    const sock1: Once = () => rawSockets[0]!.call(ARGS);
    const sock2: Once = (i) => rawSockets[i % 2]!.call(ARGS);
    const bidi1: Once = () => bidi[0]!.call(ARGS);
    const bidi2: Once = (i) => bidi[i % 2]!.call(ARGS);
    const bidiB2: Once = (i) => bidiBatched[i % 2]!.call(ARGS);
    const grpc2: Once = (i) => rawCall(grpcClients[i % 2]!, ARGS);
    const viaLane1: Once = () => lane1.call('echo', ARGS);
    const viaLane2: Once = () => lane2.call('echo', ARGS);
    const viaUnary2: Once = () => unary2.call('echo', ARGS);
    for (const f of [sock1, bidi1, viaLane1]) await p50(500, f);
    for (const f of [sock2, bidi2, bidiB2, grpc2, viaLane2, viaUnary2]) await rate(2000, f);

    const out: BenchResult[] = [];
    const sockName = 'raw framed Unix-socket echo, Node <-> Python';
    out.push(
      result(
        'call lane: unary p50, 1 in flight (async echo tool)',
        'us',
        await rounds(
          () => p50(LAT_CALLS, viaLane1),
          () => p50(LAT_CALLS, sock1),
        ),
        sockName,
        targets.laneP50,
      ),
    );
    out.push(
      result(
        'lane candidate: gRPC bidi stream p50, 1 call per message',
        'us',
        await rounds(
          () => p50(LAT_CALLS, bidi1),
          () => p50(LAT_CALLS, sock1),
        ),
        sockName,
        targets.bidiP50,
      ),
    );

    // Throughput: one set of rounds measures everything, so every ratio has the same baseline runs.
    const runs: Record<string, { rate: number; cpuUs: number }[]> = {
      lane: [],
      unary: [],
      sock: [],
      grpc: [],
      bidi: [],
      bidiB: [],
    };
    // Each figure's arm runs next to its baseline's (unary and lane on either side of grpc, sock
    // next to lane and the bidi arms), so a burst of load hits a pair alike: with unary three places
    // from grpc, "pool throughput with lane: false" read per-round ratios from 0.44 to 1.65.
    const order: [keyof typeof runs, Once][] = [
      ['unary', viaUnary2],
      ['grpc', grpc2],
      ['lane', viaLane2],
      ['sock', sock2],
      ['bidi', bidi2],
      ['bidiB', bidiB2],
    ];
    for (let r = 0; r < RATE_ROUNDS; r++) {
      await pause();
      const seq = r % 2 === 0 ? order : [...order].reverse();
      for (const [k, f] of seq)
        runs[k]!.push(await rate(k === 'unary' || k === 'grpc' ? GRPC_RATE_CALLS : RATE_CALLS, f));
    }
    const rates = (k: keyof typeof runs) => runs[k]!.map((x) => x.rate);
    out.push(
      result(
        'call lane: throughput, 2 workers x 64 in flight (async echo tool)',
        'calls/s',
        { values: rates('lane'), bases: rates('grpc') },
        'raw grpc-js unary -> 2 bare grpcio',
        targets.laneThroughputVsGrpc,
      ),
      result(
        'call lane: throughput vs the raw Unix-socket echo (2 sockets, 64 in flight)',
        'calls/s',
        { values: rates('lane'), bases: rates('sock') },
        `${sockName}, 2 servers`,
        targets.laneThroughputVsSocket,
      ),
      result(
        'call lane: host CPU per call (user+sys of the Node process / calls, 2 x 64 in flight)',
        'us',
        { values: runs.lane!.map((x) => x.cpuUs), bases: runs.unary!.map((x) => x.cpuUs) },
        'the same pool with lane: false (one gRPC unary RPC per call)',
        targets.laneCpu,
      ),
      result(
        'pool throughput with lane: false (the gRPC unary path, before the lane)',
        'calls/s',
        { values: rates('unary'), bases: rates('grpc') },
        'raw grpc-js unary -> 2 bare grpcio',
        targets.laneOffThroughput,
      ),
      result(
        'lane candidate: gRPC bidi stream throughput, 1 call per message',
        'calls/s',
        { values: rates('bidi'), bases: rates('sock') },
        `${sockName}, 2 servers`,
        targets.bidiThroughput,
      ),
      result(
        'lane candidate: gRPC bidi stream throughput, calls of a tick batched per message',
        'calls/s',
        { values: rates('bidiB'), bases: rates('sock') },
        `${sockName}, 2 servers`,
        targets.bidiThroughput,
      ),
    );
    return out;
  } finally {
    await Promise.all([lane1.stop(), lane2.stop(), unary2.stop()]);
    for (const s of rawSockets) s.close();
    for (const b of [...bidi, ...bidiBatched]) b.close();
    for (const c of grpcClients) c.close();
    await Promise.all([...bareLanes, ...bares].map((b) => b.stop()));
    sockets.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await benchLane(), null, 2));
