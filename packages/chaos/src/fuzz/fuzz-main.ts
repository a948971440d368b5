/**
 * The fuzz phase's process (started by fuzz/phase.ts as a child of the driver): its own registry,
 * pools of one Python worker each (Unix socket, TCP, and the second tools module), and a supervisor
 * for child specs. Runs every fuzz kind, checking after each input that the target still serves,
 * then the probes, stops everything in order and reports over IPC.
 */
import { ToolPool } from '@trellis/grpc-bridge';
import { Registry } from '@trellis/registry';
import { CHAOS_DEFAULTS, type FuzzKind } from '../defaults.js';
import type { CheckResult } from '../ipc.js';
import { Prng } from '../prng.js';
import { targetingSelector, targetSession } from '../targeting.js';
import { TOOLS_A, TOOLS_B } from '../tree.js';
import { fuzzArgs, fuzzUnknownTools } from './args.js';
import type { FuzzChildMessage, FuzzConfig, FuzzExit } from './phase.js';
import { probeStuckTool } from './probes.js';
import { fuzzProtobuf } from './protobuf.js';
import { fuzzSocket } from './socket.js';
import { fuzzChildSpecs } from './specs.js';
import { type FuzzKindResult, Tally } from './tally.js';

const cfg = JSON.parse(process.env.TRELLIS_CHAOS_FUZZ ?? 'null') as FuzzConfig | null;
if (cfg === null || process.send === undefined) {
  console.error(
    'fuzz-main.js is started by the chaos driver (pnpm chaos), with TRELLIS_CHAOS_FUZZ and an IPC channel',
  );
  process.exit(2);
}
const t0 = performance.now();
const max = CHAOS_DEFAULTS.fuzzMaxMessageBytes;
const registry = await Registry.open({ dir: cfg.home, graceMs: 1000 });
const pool = (
  name: string,
  tools: string,
  transport: 'unix' | 'tcp',
  extra: { size?: number; concurrency?: number; heartbeatIntervalMs?: number } = {},
) =>
  new ToolPool({
    name,
    tools,
    transport,
    size: extra.size ?? 1,
    concurrency: extra.concurrency ?? 4,
    maxMessageBytes: max,
    graceMs: 1000,
    callTimeoutMs: 10_000,
    ...(extra.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: extra.heartbeatIntervalMs }),
    selector: targetingSelector(name),
    onStderr: (line, pid) => process.stderr.write(`[py ${pid}] ${line}\n`),
  });
const unix = pool('fuzz-unix', TOOLS_A, 'unix');
const tcp = pool('fuzz-tcp', TOOLS_A, 'tcp');
const poolB = pool('fuzz-b', TOOLS_B, 'unix');
// The probe's pool heartbeats as fast as the chaos tree's: a wedged worker is seen in ~1.5 s.
const stuck = pool('fuzz-stuck', TOOLS_A, 'unix', {
  size: 2,
  concurrency: 1,
  heartbeatIntervalMs: CHAOS_DEFAULTS.heartbeatIntervalMs,
});
const pools = [unix, tcp, poolB, stuck];
let current = 'start';
const exits: FuzzExit[] = [];
for (const p of pools) {
  p.on((e) => {
    if (e.type === 'worker_exited' && !['shutdown', 'normal', 'recycled'].includes(e.reason.type))
      exits.push({ pool: p.name, pid: e.pid, code: e.reason.code ?? e.reason.type, during: current });
  });
}
await Promise.all(pools.map((p) => p.start()));

const addressOf = (p: ToolPool) => () => p.stats().workers[0]?.address ?? 'unix:/nonexistent';
const wire = [
  { name: 'unix socket', address: addressOf(unix), secret: () => unix.workerSecret() },
  { name: 'tcp port', address: addressOf(tcp), secret: () => tcp.workerSecret() },
];

/** One good call aimed at the pool's worker; a problem description when it does not answer right. */
async function serves(p: ToolPool): Promise<string | undefined> {
  const w = p.stats().workers[0];
  if (w === undefined) return `${p.name} has no ready worker`;
  const isB = p === poolB;
  try {
    const v = await p.call(isB ? 'upper' : 'echo', isB ? { text: 'ok' } : { value: 'ok' }, {
      sessionId: targetSession(w.pid),
      timeoutMs: 5000,
    });
    return v === (isB ? 'OK' : 'ok') ? undefined : `${p.name} answered ${JSON.stringify(v)}`;
  } catch (e) {
    return `${p.name} worker ${w.pid}: ${(e as { code?: string }).code ?? (e as Error).message}`;
  }
}

const both = async (): Promise<string | undefined> => (await serves(unix)) ?? (await serves(tcp));
const count = (k: FuzzKind) =>
  cfg.scale <= 0 ? 0 : Math.max(1, Math.round(CHAOS_DEFAULTS.fuzzCounts[k] * cfg.scale));
const kinds: FuzzKindResult[] = [];
const run = async (
  kind: FuzzKind,
  label: string,
  body: (t: Tally, n: number, rng: Prng) => Promise<void>,
) => {
  current = label;
  const t = new Tally(label, count(kind));
  const started = performance.now();
  await body(t, t.planned, Prng.derive(cfg.seed, `fuzz:${kind}`));
  console.error(
    `[fuzz] ${label}: ${t.inputs} inputs in ${Math.round(performance.now() - started)} ms, ${t.unclean} not clean`,
  );
  kinds.push(t.result());
};

await run('socket', 'raw bytes at the worker socket', (t, n, r) => fuzzSocket(r, n, wire, t, both));
await run('protobuf', 'malformed / oversized protobuf', (t, n, r) => fuzzProtobuf(r, n, wire, max, t, both));
await run('args', 'arguments not matching the schema', (t, n, r) =>
  fuzzArgs(r, n, { a: unix, b: poolB }, max, t, serves),
);
await run('unknownTool', 'unknown tools', (t, n, r) => fuzzUnknownTools(r, n, [unix, tcp, poolB], t, serves));
await run('childSpec', 'random child specs and flags', (t, n, r) => fuzzChildSpecs(r, n, t));

current = 'probes';
const probes: CheckResult[] = [await probeStuckTool(stuck)];

current = 'stop';
await Promise.all(pools.map((p) => p.stop()));
await registry.stopAll();
const runId = registry.runId;
await registry.close();
const m: FuzzChildMessage = { t: 'fuzz', runId, kinds, probes, exits, ms: performance.now() - t0 };
process.send(m, undefined, {}, () => process.exit(0));
