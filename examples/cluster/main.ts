/**
 * `pnpm example:cluster`: three Trellis nodes as three OS processes on etcd elect a leader; the
 * leader is killed with kill -9; another node takes over with a new epoch, and a write carrying the
 * old leader's epoch is refused by etcd.
 *
 * etcd: TRELLIS_ETCD (comma-separated client URLs) if set, else a throw-away local etcd on free
 * 127.0.0.1 ports (Debian's `etcd`, installed by scripts/install-system-deps.sh), stopped at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EtcdLeaseStore, LocalEtcd } from '@trellis/cluster';

const log = (s: string) => console.log(s);
const given = (process.env.TRELLIS_ETCD ?? '').split(',').filter(Boolean);
const local = given.length > 0 ? undefined : await LocalEtcd.start({ name: 'trellis-example-etcd' });
const etcd = given.length > 0 ? given : local!.endpoints;
log(`etcd: ${etcd.join(', ')}${local ? ' (a local etcd started for this example)' : ' (TRELLIS_ETCD)'}`);
const cluster = `example-${process.pid}`;

interface Line {
  node: string;
  at: number;
  op: string;
  [k: string]: unknown;
}
const procs = new Map<string, ChildProcess>();
const lines: Line[] = [];
const waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
function until(pred: (l: Line) => boolean, timeoutMs = 20_000): Promise<Line> {
  const seen = lines.find(pred);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out')), timeoutMs);
    waiters.push({
      pred,
      resolve: (l) => {
        clearTimeout(t);
        resolve(l);
      },
    });
  });
}
function startNode(node: string): void {
  const p = spawn(
    process.execPath,
    [fileURLToPath(new URL('./node.js', import.meta.url)), JSON.stringify({ etcd, cluster, node })],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TRELLIS_LOG_LEVEL: process.env.TRELLIS_LOG_LEVEL ?? 'warn' },
    },
  );
  procs.set(node, p);
  createInterface({ input: p.stdout! }).on('line', (text) => {
    let l: Line;
    try {
      l = JSON.parse(text);
    } catch {
      return;
    }
    lines.push(l);
    for (const w of waiters.splice(0)) w.pred(l) ? w.resolve(l) : waiters.push(w);
  });
}

let exitCode = 0;
try {
  for (const n of ['node-1', 'node-2', 'node-3']) startNode(n);
  for (const n of procs.keys()) {
    const r = await until((l) => l.node === n && l.op === 'ready');
    log(`${n}: joined as incarnation ${r.incarnation} (pid ${procs.get(n)!.pid})`);
  }
  const led = await until((l) => l.op === 'lease' && l.role === 'leader');
  const leader = led.node;
  const oldEpoch = led.epoch as number;
  log(`\n${leader} leads "jobs" with epoch ${oldEpoch}`);
  await until((l) => l.node === leader && l.op === 'wrote');
  log(`${leader} writes, fenced with epoch ${oldEpoch}`);

  log(`\nkill -9 ${leader} (pid ${procs.get(leader)!.pid})`);
  const killedAt = lines.at(-1)!.at;
  procs.get(leader)!.kill('SIGKILL');
  const took = await until((l) => l.op === 'lease' && l.role === 'leader' && l.node !== leader);
  log(
    `${took.node} took over with epoch ${took.epoch} (was ${oldEpoch}), about ${Math.round(took.at - killedAt)} ms after the kill (TTL 2000 ms)`,
  );
  await until((l) => l.node === took.node && l.op === 'wrote' && l.epoch === took.epoch);
  log(`${took.node} writes, fenced with epoch ${took.epoch}`);
  const down = await until((l) => l.op === 'nodedown' && l.of === leader);
  log(`${down.node} saw ${leader} go down (incarnation ${down.incarnation})`);

  // The old leader's late write: a write that still carries its epoch is refused by etcd.
  const store = await EtcdLeaseStore.open({ etcd: { endpoints: etcd }, prefix: `/${cluster}/` });
  try {
    await store.fencedWrite('jobs', oldEpoch, (tx) =>
      tx.put('last', { node: leader, epoch: oldEpoch, late: true }),
    );
    log('\nthe late write with the old epoch was ACCEPTED: this must not happen');
    exitCode = 1;
  } catch (e) {
    const err = e as { code?: string; refusal?: string };
    log(`\nthe old leader's late write with epoch ${oldEpoch}: refused (${err.code}, ${err.refusal})`);
  }
  log(`last fenced value: ${JSON.stringify(await store.readFenced('last'))}`);
  await store.close();
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await Promise.all(
    [...procs.values()].map((p) =>
      p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)),
    ),
  );
  await local?.stop();
}
process.exit(exitCode);
