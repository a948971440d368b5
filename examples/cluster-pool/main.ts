/**
 * `pnpm example:cluster-pool`: one pool of Python workers on two machines.
 *
 *   1. starts a local etcd, makes a cluster CA and certificates (`trellis certs`), and starts two
 *      agents, each its own OS process running `trellis agent` (as root: each in its own network
 *      namespace, a "machine" reached over a veth; else on 127.0.0.1);
 *   2. starts the client (client.ts): a tree whose ToolPool has `placement: { nodes: 'cluster',
 *      perNode: 2 }`, so 2 workers on each agent, and a stream of calls (lookup: idempotent, charge:
 *      not);
 *   3. kill -9 of agent-1: its workers die with it, the calls carry on from agent-2. Calls that were
 *      running on agent-1 fail if they are not idempotent and move to agent-2 if they are;
 *   4. starts agent-1 again: it joins as a new incarnation and the pool is back at 4 workers;
 *   5. prints how many calls failed (each non-idempotent), how many moved, and that no charge ran
 *      twice (the tool's own ledger), then stops everything.
 *
 * etcd: TRELLIS_ETCD (comma-separated client URLs) if set, else a throw-away local etcd (Debian's
 * `etcd`, installed by scripts/install-system-deps.sh), stopped at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { initClusterCa, issueNodeCert, LocalEtcd } from '@trellis/cluster';
import { Machines } from './machines.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOOLS = fileURLToPath(new URL('../../cluster-pool/tools.py', import.meta.url));
const CLIENT = fileURLToPath(new URL('./client.js', import.meta.url));
const TRELLIS = join(ROOT, 'scripts', 'trellis-cli.mjs');
const AGENTS = ['agent-1', 'agent-2'];

const log = (s: string) => console.log(s);
const ms = (x: number) => `${Math.round(x)} ms`;
const dir = mkdtempSync(join(tmpdir(), 'trellis-example-cluster-pool-'));
const certs = join(dir, 'certs');
const ledger = join(dir, 'ledger');
const cluster = `example-pool-${process.pid}`;
const machines = new Machines();
const procs = new Set<ChildProcess>();
let etcd: LocalEtcd | undefined;

/** A child process printing JSON lines, with a wait for the first line matching a predicate. */
function run(argv: string[], env: Record<string, string>, onLine: (l: any) => void = () => {}) {
  const p = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TRELLIS_LOG_LEVEL: process.env.TRELLIS_LOG_LEVEL ?? 'error', ...env },
  });
  procs.add(p);
  p.once('exit', () => procs.delete(p));
  p.stdin!.on('error', () => {});
  const lines: any[] = [];
  const waiters: { pred: (l: any) => boolean; resolve: (l: any) => void }[] = [];
  createInterface({ input: p.stdout! }).on('line', (text) => {
    let l: any;
    try {
      l = JSON.parse(text);
    } catch {
      return;
    }
    lines.push(l);
    onLine(l);
    for (const w of waiters.splice(0)) w.pred(l) ? w.resolve(l) : waiters.push(w);
  });
  /** The first line matching `pred`: among those already printed too (`seen`), or only new ones. */
  const until = (pred: (l: any) => boolean, what: string, seen = true, timeoutMs = 60_000): Promise<any> => {
    const old = seen ? lines.find(pred) : undefined;
    if (old) return Promise.resolve(old);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const onExit = () =>
        reject(new Error(`${argv.join(' ').slice(0, 120)} exited while waiting for ${what}`));
      p.once('exit', onExit);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(t);
          p.off('exit', onExit);
          resolve(l);
        },
      });
    });
  };
  return { p, until };
}

function startAgent(name: string) {
  const m = machines.get(name);
  const args = [
    'agent',
    '--cluster',
    cluster,
    '--etcd',
    etcd ? etcd.endpoints.join(',') : (process.env.TRELLIS_ETCD ?? ''),
    '--node',
    name,
    '--listen',
    `${m.host}:${machines.namespaces ? 7400 : 0}`,
    '--certs',
    certs,
    '--member-ttl-ms',
    '2000',
  ];
  const a = run([...m.wrap, process.execPath, TRELLIS, ...args], {
    EXAMPLE_NODE: name,
    TRELLIS_HOME: join(dir, `home-${name}`),
  });
  return { ...a, args };
}

let exitCode = 0;
try {
  // ---- 1. etcd, certificates, two agents --------------------------------------------------------
  machines.create(['etcd', 'client', ...AGENTS]);
  log(
    machines.namespaces
      ? `machines: a network namespace each for etcd, the client, ${AGENTS.join(', ')} (one bridge, a private /24)`
      : 'machines: all on 127.0.0.1 (run as root for a network namespace per machine)',
  );
  const given = (process.env.TRELLIS_ETCD ?? '').split(',').filter(Boolean);
  if (given.length === 0) {
    const m = machines.get('etcd');
    etcd = await LocalEtcd.start({
      name: 'trellis-example-etcd',
      ...(machines.namespaces ? { host: m.host, port: 2379, wrap: m.wrap } : {}),
    });
  }
  const endpoints = etcd ? etcd.endpoints : given;
  log(`etcd: ${endpoints.join(', ')}${etcd ? ' (started for this example)' : ' (TRELLIS_ETCD)'}`);
  await initClusterCa({ dir: certs });
  for (const n of [...AGENTS, 'client']) await issueNodeCert(n, { dir: certs });
  log(`certs: trellis certs init; trellis certs issue ${[...AGENTS, 'client'].join(', ')} (in ${certs})`);

  const agents = new Map<string, ReturnType<typeof startAgent>>();
  for (const name of AGENTS) {
    const a = startAgent(name);
    agents.set(name, a);
    const r = await a.until((l) => l.event === 'agent_ready', `${name} ready`);
    log(`${name}: trellis ${a.args.join(' ')}\n  pid ${a.p.pid}, incarnation ${r.incarnation}, ${r.address}`);
  }

  // ---- 2. the client tree and its stream of calls ----------------------------------------------
  const cm = machines.get('client');
  let last: any;
  const client = run(
    [
      ...cm.wrap,
      process.execPath,
      CLIENT,
      JSON.stringify({
        etcd: endpoints,
        cluster,
        listen: `${cm.host}:${machines.namespaces ? 7400 : 0}`,
        tls: { ca: join(certs, 'ca.pem'), cert: join(certs, 'client.pem'), key: join(certs, 'client.key') },
        ledger,
        tools: TOOLS,
      }),
    ],
    { TRELLIS_HOME: join(dir, 'home-client') },
    (l) => {
      if (l.op === 'tick') last = l;
    },
  );
  const full = AGENTS.length * 2;
  const t0 = performance.now();
  const up = await client.until((l) => l.op === 'tick' && l.ready === full, 'the pool at full size');
  log(
    `\nclient: pool placement { nodes: 'cluster', perNode: 2 }: ${up.size} workers on ${up.nodes.join(', ')} after ${ms(performance.now() - t0)}`,
  );
  await client.until((l) => l.op === 'tick' && l.ok >= 100, '100 calls');
  log(`calls: ${last.ok} done so far, by node ${JSON.stringify(last.perNode)}`);

  // ---- 3. kill -9 of agent-1 --------------------------------------------------------------------
  const victim = agents.get('agent-1')!;
  const okBefore = last.ok;
  log(`\nkill -9 agent-1 (pid ${victim.p.pid})`);
  const tKill = performance.now();
  victim.p.kill('SIGKILL');
  const shrunk = await client.until(
    (l) => l.op === 'tick' && l.size === full - 2 && !l.nodes.includes('agent-1'),
    'the pool without agent-1',
    false,
  );
  log(
    `  the pool dropped agent-1's workers after ${ms(performance.now() - tKill)}: ${shrunk.size} workers on ${shrunk.nodes.join(', ')}`,
  );
  await client.until((l) => l.op === 'tick' && l.ok >= okBefore + 100, 'calls after the kill', false);
  log(`  calls carry on: ${last.ok - okBefore} done since the kill, by node ${JSON.stringify(last.perNode)}`);

  // ---- 4. agent-1 comes back --------------------------------------------------------------------
  const again = startAgent('agent-1');
  agents.set('agent-1', again);
  const r = await again.until((l) => l.event === 'agent_ready', 'agent-1 ready again');
  log(`\nagent-1 started again: pid ${again.p.pid}, incarnation ${r.incarnation} (a new one)`);
  const tBack = performance.now();
  const back = await client.until(
    (l) => l.op === 'tick' && l.ready === full && l.nodes.includes('agent-1'),
    'the pool at full size again',
    false,
  );
  log(
    `  the pool is at full size again after ${ms(performance.now() - tBack)}: ${back.size} workers on ${back.nodes.join(', ')}`,
  );
  const okBack = back.ok;
  await client.until((l) => l.op === 'tick' && l.ok >= okBack + 50, 'calls after the return', false);

  // ---- 5. the summary ----------------------------------------------------------------------------
  client.p.stdin!.write('stop\n');
  const s = await client.until((l) => l.op === 'summary', 'the summary', false);
  const runs = new Map<string, number>();
  for (const line of readFileSync(ledger, 'utf8').split('\n').filter(Boolean)) {
    const id = line.split(' ')[0]!;
    runs.set(id, (runs.get(id) ?? 0) + 1);
  }
  const twice = [...runs.values()].filter((n) => n > 1).length;
  const idemFailed = s.failures.filter((f: any) => f.idempotent);
  const codes = [...new Set(s.failures.map((f: any) => f.code))].join(', ') || 'none';
  log(`\nsummary: ${s.ok + s.failed} calls, ${s.ok} succeeded, by node ${JSON.stringify(s.perNode)}`);
  log(
    `  failed: ${s.failed} (${codes}); non-idempotent (charge): ${s.failed - idemFailed.length}, idempotent (lookup): ${idemFailed.length}`,
  );
  log(`  moved: ${s.retried} idempotent calls were running on agent-1 and were run again on agent-2`);
  log(`  charges run twice: ${twice} (the tool's ledger: ${runs.size} charges)`);
  log(`  pool at the end: ${s.size} workers on ${s.nodes.join(', ')}`);
  if (idemFailed.length > 0 || twice > 0 || s.size !== full) {
    log('\nFAILED: an idempotent call failed, a charge ran twice, or the pool is not at full size');
    exitCode = 1;
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(
    [...procs].map(
      (p) =>
        new Promise<void>((r) => {
          const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
          p.once('exit', () => {
            clearTimeout(t);
            r();
          });
        }),
    ),
  );
  await etcd?.stop();
  machines.destroy();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
