/**
 * The system under test's end-of-run checks (sut.ts runs them once the load has stopped and every
 * call has an outcome): the tree is whole again, every worker serves, the registry records exactly
 * the live processes, and the leased leader holds its lease with one epoch.
 */
import { countChildren, type Pid, whereis, whichChildren } from '@trellis/core';
import type { ToolPool } from '@trellis/grpc-bridge';
import { leaseStatus } from '@trellis/health';
import { type ChildView, callRegistry } from '@trellis/registry';
import { KEEPER_NAME } from './actors/leader-work.js';
import type { CheckResult, LeaderObservation, SutFinal } from './ipc.js';
import { processesOfRuns } from './orphans.js';
import { targetSession } from './targeting.js';
import { NAMES } from './tree.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CheckContext {
  readonly pools: readonly ToolPool[];
  /** The top supervisor. */
  readonly app: Pid;
  readonly leader: LeaderObservation;
}

/** Polls (bounded) until every pool is at full size and every child of the tree runs. */
export async function untilWhole(c: CheckContext, maxMs: number): Promise<{ ok: boolean; detail: string }> {
  const deadline = performance.now() + maxMs;
  let why = '';
  for (let i = 0; i < 10_000; i++) {
    why = await missing(c);
    if (why === '' || performance.now() > deadline) break;
    await sleep(100);
  }
  return {
    ok: why === '',
    detail: why === '' ? 'pools at full size, every child running' : `after ${maxMs} ms: ${why}`,
  };
}

async function missing(c: CheckContext): Promise<string> {
  const out: string[] = [];
  for (const p of c.pools) {
    const s = p.stats();
    if (s.status !== 'running' || s.readyWorkers !== s.size)
      out.push(`${p.name} ${s.readyWorkers}/${s.size} ready (${s.status})`);
  }
  for (const sup of [c.app, NAMES.threadsSup, NAMES.serversSup]) {
    try {
      for (const k of await whichChildren(sup, 2000))
        if (typeof k.pid !== 'string' || k.pid === 'restarting')
          out.push(`${k.id ?? '?'} not running (${String(k.pid)})`);
    } catch (e) {
      out.push(`${sup}: ${(e as Error).message}`);
    }
  }
  for (const n of [...NAMES.threads, ...NAMES.kv, NAMES.leader, NAMES.tasks])
    if (whereis(n) === undefined) out.push(`${n} not registered`);
  try {
    const n = await countChildren(c.app, 2000);
    if (n.active !== n.specs) out.push(`top supervisor: ${n.active}/${n.specs} active`);
  } catch (e) {
    out.push(`top supervisor: ${(e as Error).message}`);
  }
  return out.join('; ');
}

/** Every worker of every pool answers a good call aimed at it. */
export async function poolsServe(c: CheckContext): Promise<CheckResult> {
  const bad: string[] = [];
  let n = 0;
  for (const [i, p] of c.pools.entries()) {
    // Pool A serves echo, pool B upper (tree.ts).
    const tool = i === 0 ? 'echo' : 'upper';
    const args = i === 0 ? { value: 'ping' } : { text: 'ping' };
    const want = i === 0 ? 'ping' : 'PING';
    for (const w of p.stats().workers) {
      n++;
      try {
        const v = await p.call(tool, args, { sessionId: targetSession(w.pid), timeoutMs: 5000 });
        if (v !== want) bad.push(`${p.name}/${w.slot} pid ${w.pid} answered ${JSON.stringify(v)}`);
      } catch (e) {
        bad.push(
          `${p.name}/${w.slot} pid ${w.pid}: ${(e as { code?: string }).code ?? (e as Error).message}`,
        );
      }
    }
  }
  return {
    name: 'every worker serves',
    ok: bad.length === 0 && n > 0,
    detail: bad.length ? bad.join('; ') : `${n} workers answered a targeted call`,
  };
}

/** The registry records exactly the live worker processes, and /proc agrees. */
export async function registryExact(
  c: CheckContext,
  id: string,
): Promise<{ check: CheckResult; counts: SutFinal['registry'] }> {
  const records = await callRegistry<ChildView[]>(NAMES.registry, { op: 'listChildren', runId: id });
  const recorded = new Set(records.filter((r) => r.status === 'alive').map((r) => r.pid!));
  const notAlive = records.filter((r) => r.status !== 'alive').map((r) => `${r.name}: ${r.status}`);
  const live = new Set(c.pools.flatMap((p) => p.stats().workers.map((w) => w.pid)));
  const marked = new Set(
    processesOfRuns([id])
      .filter((p) => p.how === 'marker')
      .map((p) => p.pid),
  );
  const diff = (a: Set<number>, b: Set<number>) => [...a].filter((x) => !b.has(x));
  const problems = [
    ...notAlive.map((s) => `record ${s}`),
    ...diff(live, recorded).map((p) => `worker ${p} not recorded`),
    ...diff(recorded, live).map((p) => `record ${p} is no worker`),
    ...diff(marked, recorded).map((p) => `process ${p} carries the run marker but is not recorded`),
    ...diff(recorded, marked).map((p) => `record ${p} has no live marked process`),
  ];
  return {
    check: {
      name: 'registry = live processes',
      ok: problems.length === 0,
      detail: problems.length
        ? problems.join('; ')
        : `${records.length} records = ${live.size} live workers = ${marked.size} marked processes in /proc`,
    },
    counts: { records: records.length, live: live.size, marked: marked.size },
  };
}

/** The leased leader: this host leads at the end, with one epoch for the whole run and no loss. */
export async function leaseCheck(c: CheckContext): Promise<CheckResult> {
  let role = 'unknown';
  let epoch: number | null = null;
  let losses = -1;
  // Right after a host kill the old lease must expire first (its TTL): wait for it, bounded.
  for (let i = 0; i < 100; i++) {
    try {
      const st = await leaseStatus(KEEPER_NAME);
      role = st.role;
      epoch = st.epoch;
      losses = st.losses;
      if (role === 'leader') break;
    } catch {
      // keeper restarting
    }
    await sleep(100);
  }
  const epochs = c.leader.epochs;
  const ok =
    role === 'leader' && losses === 0 && epochs.length <= 1 && (epochs.length === 0 || epochs[0] === epoch);
  return {
    name: 'leased leader',
    ok,
    detail: `role ${role}, epoch ${epoch}, epochs seen while leading ${JSON.stringify(epochs)}, keeper losses ${losses}, ${c.leader.fencedWrites} fenced writes`,
  };
}
