/**
 * Tool pools across nodes (`pnpm bench cluster`, issue 15), on a PoolLab (test/pool-lab.ts):
 * network namespaces joined by veths on a bridge, each "machine" its own OS processes. Root only:
 * without it every figure is reported as skipped, with the reason.
 *
 * - raw_mtls: the baseline of the remote unary figure. p50 of a raw grpc-js ToolService Execute
 *   (64-byte JSON payload) from the client namespace to a bare grpcio server (bench/
 *   bare_tls_server.py, async handler, as a Trellis worker's) in an agent namespace, over the
 *   veth, with mTLS (client certificate required, P-256 certificates from `trellis certs`), and the
 *   same call without TLS, in interleaved rounds. The ratio mTLS/plain is what TLS itself costs.
 * - remote_unary: p50 of pool.call('echo') (same payload, async echo tool) through a ToolPool whose
 *   one worker runs on an agent in another namespace (`trellis agent`, mTLS, no lane: the data path
 *   is a grpc-js -> grpcio mTLS call) against raw_mtls's call to a bare server in the same agent
 *   namespace, measured in the same client process, interleaved rounds; the ratio is the median of
 *   the per-round ratios. Target <= 1.15x. A second row, the same with timeoutMs: Infinity (no gRPC
 *   deadline), shows what the default call budget's deadline costs, and a third, the pool against a
 *   raw grpc-js client calling the same remote trellis_worker (mTLS, the pool's secret), the
 *   TypeScript side alone (diagnostics, as in the bridge's unary bench).
 * - capacity: calls per second of a tool that sleeps 20 ms on its worker (concurrency 1, so the
 *   workers and not the 2 cores are the limit), 32 callers, from a pool of 4 workers on one agent
 *   node and from a pool of 4 workers on each of two; interleaved rounds. Target >= 1.8x.
 * - route_around: kill -9 of an agent (its workers die with it) until the pool has no ready worker
 *   there any more (no new call is sent there), while calls run, against the member-lease TTL.
 *   Target <= TTL.
 */
import { fileURLToPath } from 'node:url';
import { hostMonotonicMs } from '@trellis/health';
import type { Child } from '../test/helpers.js';
import { PoolLab, poolLabAvailable, repoPython } from '../test/pool-lab.js';
import type { BenchResult } from './result.js';
import { MTLS_BARE, targets } from './targets.js';

export const BARE_TLS_SERVER = fileURLToPath(new URL('../../bench/bare_tls_server.py', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export function skipped(name: string, why: string, target: BenchResult['target']): BenchResult[] {
  return [{ name: `${name} (skipped: ${why})`, value: Number.NaN, unit: '', target, pass: false }];
}

/** Starts the bare server in `member` (mTLS with that member's certificate, or plain) on `port`. */
export async function startBareServer(
  lab: PoolLab,
  member: string,
  port: number,
  tls: boolean,
): Promise<string> {
  const files = tls ? lab.tls(member) : undefined;
  const argv = [
    repoPython(),
    BARE_TLS_SERVER,
    `${lab.addr(member)}:${port}`,
    ...(files ? ['--tls-ca', files.ca, '--tls-cert', files.cert, '--tls-key', files.key] : []),
    'trellis-test-marker',
  ];
  const { first } = await lab.spawnIn(member, argv);
  if (!first.startsWith('READY ')) throw new Error(`bare server said: ${first}`);
  return first.slice('READY '.length);
}

export async function benchRawMtls(rounds = 7, n = 1000): Promise<BenchResult[]> {
  const skip = poolLabAvailable();
  const name = 'raw grpc-js -> grpcio unary p50 over a veth between namespaces, mTLS';
  if (skip !== undefined) return skipped(name, skip, targets.rawMtls);
  const lab = await PoolLab.start({ agents: ['a1'] });
  try {
    const tlsAddr = await startBareServer(lab, 'a1', 7500, true);
    const plainAddr = await startBareServer(lab, 'a1', 7501, false);
    const client = await lab.startClient();
    await lab.ask(client, { op: 'raw-connect', key: 'tls', address: tlsAddr, tls: lab.tls('client') });
    await lab.ask(client, { op: 'raw-connect', key: 'plain', address: plainAddr });
    for (const key of ['tls', 'plain']) await lab.ask(client, { op: 'raw-p50', key, n: 500 }); // warm-up
    const tls: number[] = [];
    const plain: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so neither always runs right after the other's GC or JIT work.
      const order = r % 2 === 0 ? ['tls', 'plain'] : ['plain', 'tls'];
      for (const key of order) {
        const { p50 } = await lab.ask(client, { op: 'raw-p50', key, n }, 120_000);
        (key === 'tls' ? tls : plain).push(p50);
      }
    }
    const t = median(tls);
    const p = median(plain);
    return [
      {
        name,
        value: round(t),
        unit: 'ms',
        baseline: round(p),
        baselineName: 'the same call without TLS',
        ratio: round(t / p),
        target: targets.rawMtls,
      },
    ];
  } finally {
    await lab.stop();
  }
}

interface Interleaved {
  value: number;
  baseline: number;
  /** Median of the per-round ratios. */
  ratio: number;
}

/** Rounds that alternate which side goes first; medians, and the median of per-round ratios. */
async function interleaved(
  rounds: number,
  ours: () => Promise<number>,
  base: () => Promise<number>,
): Promise<Interleaved> {
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = await ours();
      y = await base();
    } else {
      y = await base();
      x = await ours();
    }
    a.push(x);
    b.push(y);
    ratios.push(x / y);
  }
  return { value: median(a), baseline: median(b), ratio: median(ratios) };
}

async function labWithPool(
  agents: readonly string[],
  pool: Record<string, unknown>,
  memberTtlMs?: number,
): Promise<{ lab: PoolLab; client: Child }> {
  const lab = await PoolLab.start({ agents });
  try {
    const more = memberTtlMs === undefined ? [] : ['--member-ttl-ms', String(memberTtlMs)];
    await Promise.all(agents.map((a) => lab.agentReady(a, more)));
    const client = await lab.startClient();
    const r = await lab.ask(
      client,
      { op: 'pool-start', cluster: lab.clientCluster(memberTtlMs), pool },
      60_000,
    );
    if (!r.ok) throw new Error(`pool-start: ${JSON.stringify(r)}`);
    return { lab, client };
  } catch (e) {
    await lab.stop();
    throw e;
  }
}

async function waitSize(lab: PoolLab, client: Child, size: number, key = 'lab'): Promise<void> {
  const r = await lab.ask(client, { op: 'pool-wait', key, size, timeoutMs: 60_000 }, 70_000);
  if (!r.ok)
    throw new Error(`pool ${key} never reached ${size} workers: ${JSON.stringify(r.stats?.workers)}`);
}

// 11 rounds, not 7: under load from other work on the box this ratio read 1.16, 1.34 and 1.24 in
// runs of 7 rounds on 2026-12-07 (1.12 on a quiet box), with the pool's TypeScript side at 1.01-1.03
// of a raw client to the same worker; more rounds steady the median of per-round ratios.
export async function benchRemoteUnary(rounds = 11, n = 1000): Promise<BenchResult[]> {
  const name = 'remote unary p50 through the pool (worker on an agent over a veth, mTLS)';
  const skip = poolLabAvailable();
  if (skip !== undefined) return skipped(name, skip, targets.remoteUnary);
  const { lab, client } = await labWithPool(['a1'], { perNode: 1 });
  try {
    await waitSize(lab, client, 1);
    const tlsAddr = await startBareServer(lab, 'a1', 7500, true);
    await lab.ask(client, { op: 'raw-connect', key: 'tls', address: tlsAddr, tls: lab.tls('client') });
    await lab.ask(client, { op: 'raw-p50', key: 'tls', n: 500 }); // warm-up
    await lab.ask(client, { op: 'pool-p50', n: 500 });
    const pool = (noDeadline: boolean) => async () =>
      (await lab.ask(client, { op: 'pool-p50', n, noDeadline }, 120_000)).p50 as number;
    const raw = async (timeoutMs?: number) =>
      (await lab.ask(client, { op: 'raw-p50', key: 'tls', n, timeoutMs }, 120_000)).p50 as number;
    await lab.ask(client, { op: 'raw-connect', key: 'worker', worker: true, tls: lab.tls('client') });
    await lab.ask(client, { op: 'raw-p50', key: 'worker', n: 500 }); // warm-up
    const rawWorker = async () =>
      (await lab.ask(client, { op: 'raw-p50', key: 'worker', n }, 120_000)).p50 as number;
    // Like with like: the pool's call carries its default 30 s budget as a gRPC deadline, and so
    // does the raw call it is held to; the no-deadline row is held to a raw call without one.
    const withDeadline = await interleaved(rounds, pool(false), () => raw(30_000));
    const noDeadline = await interleaved(rounds, pool(true), () => raw());
    const tsSide = await interleaved(rounds, pool(true), rawWorker);
    const row = (
      r: Interleaved,
      what: string,
      target: BenchResult['target'],
      baselineName: string = targets.remoteUnary.baseline,
    ): BenchResult => ({
      name: `${name}${what}`,
      value: round(r.value),
      unit: 'ms',
      baseline: round(r.baseline),
      baselineName,
      ratio: round(r.ratio),
      target,
    });
    return [
      row(withDeadline, '', targets.remoteUnary),
      row(noDeadline, ', no deadline (timeoutMs: Infinity)', targets.remoteUnaryNoDeadline, MTLS_BARE),
      {
        ...row(
          tsSide,
          ' vs a raw client to the same remote worker (TS side alone)',
          targets.remoteUnaryTsSide,
        ),
        baselineName: 'raw grpc-js -> the same trellis_worker, mTLS, with the secret',
      },
    ];
  } finally {
    await lab.stop();
  }
}

export async function benchCapacity(rounds = 3, ms = 3000, callers = 32): Promise<BenchResult[]> {
  const name = 'throughput, 2 nodes x 4 workers vs 1 node x 4 (a tool that sleeps 20 ms)';
  const skip = poolLabAvailable();
  if (skip !== undefined) return skipped(name, skip, targets.capacity);
  // Two pools on the same client node: 'one' places on a1 only, 'two' on a1 and a2.
  const { lab, client } = await labWithPool(['a1', 'a2'], { perNode: 4, nodes: ['a1'], concurrency: 1 });
  try {
    const started = await lab.ask(
      client,
      {
        op: 'pool-start',
        key: 'two',
        cluster: lab.clientCluster(),
        pool: { perNode: 4, nodes: ['a1', 'a2'], concurrency: 1 },
      },
      60_000,
    );
    if (!started.ok) throw new Error(`pool-start two: ${JSON.stringify(started)}`);
    await waitSize(lab, client, 4);
    await waitSize(lab, client, 8, 'two');
    const tp = async (key: string, dur: number) =>
      (
        await lab.ask(
          client,
          { op: 'throughput', key, tool: 'nap', args: { ms: 20 }, concurrency: callers, ms: dur },
          60_000,
        )
      ).perSecond as number;
    await tp('lab', 1000); // warm-up
    await tp('two', 1000);
    const r = await interleaved(
      rounds,
      () => tp('two', ms),
      () => tp('lab', ms),
    );
    return [
      {
        name,
        value: round(r.value, 1),
        unit: 'calls/s',
        baseline: round(r.baseline, 1),
        baselineName: targets.capacity.baseline,
        ratio: round(r.ratio),
        target: targets.capacity,
      },
    ];
  } finally {
    await lab.stop();
  }
}

export async function benchRouteAround(rounds = 5, memberTtlMs = 2000): Promise<BenchResult[]> {
  const name = `kill -9 of an agent until the pool sends it no call (member TTL ${memberTtlMs} ms)`;
  const skip = poolLabAvailable();
  if (skip !== undefined) return skipped(name, skip, targets.routeAround);
  const { lab, client } = await labWithPool(['a1', 'a2'], { perNode: 2 }, memberTtlMs);
  const xs: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      await waitSize(lab, client, 4);
      await lab.ask(client, {
        op: 'stream-start',
        stream: `r${r}`,
        mix: [{ tool: 'where' }],
        concurrency: 4,
      });
      await new Promise((res) => setTimeout(res, 300 + Math.random() * 300));
      const gone = lab.ask(client, { op: 'watch-gone', node: 'a1' }, 60_000);
      const killedAt = hostMonotonicMs();
      await lab.kill9Agent('a1');
      const { at } = await gone;
      xs.push(at - killedAt);
      console.error(`[bench] route_around round ${r}: ${Math.round(at - killedAt)} ms`);
      await lab.ask(client, { op: 'stream-stop', stream: `r${r}` }, 60_000);
      await lab.agentReady('a1', ['--member-ttl-ms', String(memberTtlMs)]);
    }
  } finally {
    await lab.stop();
  }
  const v = median(xs);
  return [
    {
      name,
      value: round(v, 0),
      unit: 'ms',
      baseline: memberTtlMs,
      baselineName: 'the member-lease TTL',
      ratio: round(v / memberTtlMs),
      target: targets.routeAround,
      pass: v <= memberTtlMs,
    },
  ];
}

/** The raw baseline alone, as JSON (run: `node packages/cluster/dist/bench/pool.js`, as root). */
if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchRawMtls(), null, 2));
