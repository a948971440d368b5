/**
 * Large payloads through shared memory on the call lane: a 100 MiB argument (the zero-copy tool
 * `byte_count` reads its size only: the bytes stay in the mapping) and a 100 MiB result (the tool
 * `make_bytes` fills a ctx.shared_buffer and returns it), as effective throughput of the whole
 * call, against raw memcpy (`Buffer.copy` of 100 MiB into a fresh buffer) in the same rounds.
 *
 * A result is timed until the caller holds all of it and has read it once (a checksum of one byte
 * in every 4096, so each page of a mapped result is faulted in and counted); the memcpy baseline's
 * destination is read the same way. The result is mapped from the worker's sealed memfd
 * (src/shm/mapped-results.ts); a diagnostic row times the read path (`maxMappedBytes: 0`: a new
 * Buffer the segment is read into) in the same rounds. Garbage is collected between rounds (outside
 * the timed calls), so last round's buffers of every kind are freed before the next: V8 does not
 * count mapped results, and without it the mapped ones would pile up to maxMappedBytes and later
 * rounds would be read. A round whose result was not mapped fails the suite.
 *
 * The worker reuses a released result memfd for the next result of the same size once the host has
 * unmapped it (trellis_worker/shm.py), which the collection between rounds lets it do: the mapped row
 * is a steady state of results of one size. A third diagnostic row asks for a size a page larger in
 * each round (100 MiB + 4 KiB * round), so that nothing can be reused: a fresh memfd every time, what
 * the first result of a size costs.
 *
 * Targets are ratios to that memcpy (bench hygiene: a slow machine must not read as a regression):
 * >= 0.6x each way, the 2 GB/s against the 3.25 GB/s memcpy measured on this box then.
 * Before the lane a 32 MiB argument crossed raw gRPC at about 0.17 GB/s (issue 16).
 *
 * Run alone: `node packages/grpc-bridge/dist/bench/payload.js` (prints JSON).
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Target } from '../../core/bench/target.js';
import { ToolPool } from '../src/index.js';
import { mappedResults } from '../src/shm/mapped-results.js';
import { BENCH_TOOLS } from './bare.js';
import { type BenchResult, median, pause, round3 } from './result.js';
import { targets } from './targets.js';

const ROUNDS = 11;
const N = 100 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function gbps(bytes: number, ms: number): number {
  return bytes / ms / 1e6;
}

/** Reads one byte of every page (what a caller touching its result costs at the least). */
function touch(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 4096) s += b[i]!;
  return s;
}

export async function benchPayload(): Promise<BenchResult[]> {
  const common = { tools: BENCH_TOOLS, size: 1, heartbeatIntervalMs: 60_000 };
  const pool = await ToolPool.start({ ...common, name: 'bench-payload' });
  const readPool = await ToolPool.start({ ...common, name: 'bench-payload-read', maxMappedBytes: 0 });
  const arg = Buffer.alloc(N, 7);
  let sink = 0;
  try {
    const memcpy = (): number => {
      const t = performance.now();
      const out = Buffer.allocUnsafe(N);
      arg.copy(out);
      sink += touch(out);
      return gbps(N, performance.now() - t);
    };
    const argument = async (): Promise<number> => {
      const t = performance.now();
      const n = await pool.call('byte_count', arg);
      if (n !== N) throw new Error(`byte_count said ${n}`);
      return gbps(N, performance.now() - t);
    };
    const result = async (p: ToolPool, n = N): Promise<number> => {
      const mapped = mappedResults().made;
      const t = performance.now();
      const out = (await p.call('make_bytes', { n })) as Buffer;
      if (out.length !== n) throw new Error(`make_bytes returned ${out.length} bytes`);
      sink += touch(out);
      const ms = performance.now() - t;
      if (mappedResults().made > mapped !== (p === pool))
        throw new Error(
          `the result of ${p === pool ? 'the mapped' : 'the read'} pool was not taken that way`,
        );
      return gbps(n, ms);
    };
    await argument();
    await result(pool);
    await result(readPool);
    memcpy();
    const a: number[] = [];
    const r: number[] = [];
    const rr: number[] = [];
    const fresh: number[] = [];
    const m: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      gc();
      await pause();
      m.push(memcpy());
      a.push(await argument());
      r.push(await result(pool));
      rr.push(await result(readPool));
      fresh.push(await result(pool, N + (i + 1) * 4096));
    }
    if (sink < 0) throw new Error('unreachable: keeps the checksums from being optimized away');
    const fig = (name: string, values: number[], target: Target = targets.payload): BenchResult => {
      const ratios = values.map((v, i) => v / m[i]!);
      return {
        name,
        value: round3(median(values)),
        unit: 'GB/s',
        baseline: round3(median(m)),
        baselineName: 'raw memcpy: Buffer.copy of 100 MiB',
        ratio: round3(median(ratios)),
        target,
        samples: ratios.map(round3),
      };
    };
    return [
      fig('100 MiB argument over the lane (shared memory, zero-copy tool)', a),
      fig('100 MiB result over the lane (built in ctx.shared_buffer, mapped by the host)', r),
      fig(
        '100 MiB result over the lane, read into a new Buffer (maxMappedBytes: 0)',
        rr,
        targets.payloadReadPath,
      ),
      fig(
        '100 MiB result over the lane, mapped, in a fresh memfd each time (sizes a page apart: nothing to reuse)',
        fresh,
        targets.payloadFresh,
      ),
    ];
  } finally {
    await Promise.all([pool.stop(), readPool.stop()]);
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchPayload(), null, 2));
