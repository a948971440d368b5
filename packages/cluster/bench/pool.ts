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
 */
import { fileURLToPath } from 'node:url';
import { PoolLab, poolLabAvailable, repoPython } from '../test/pool-lab.js';
import type { BenchResult } from './result.js';

export const BARE_TLS_SERVER = fileURLToPath(new URL('../../bench/bare_tls_server.py', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export function skipped(name: string, why: string, target: string): BenchResult[] {
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
  if (skip !== undefined) return skipped(name, skip, 'baseline');
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
        target: 'baseline of the remote pool p50 (<= 1.15x of it)',
        pass: true,
      },
    ];
  } finally {
    await lab.stop();
  }
}

/** The raw baseline alone, as JSON (run: `node packages/cluster/dist/bench/pool.js`, as root). */
if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchRawMtls(), null, 2));
