/**
 * The system under test: one host process running the chaos tree (tree.ts) under steady load
 * (load.ts), with the in-process faults of the schedule (faults.ts) when `faults` is set. The driver
 * (chaos.ts, soak.ts) starts it as a child with the configuration in TRELLIS_CHAOS_SUT, may kill it
 * with SIGKILL at any moment, and otherwise lets it run to `loadEndMs`, after which it:
 *
 *   1. stops the load and waits for every call to have an outcome (ledger.drain);
 *   2. waits until the tree is whole again: pools at full size, every child running;
 *   3. runs its end-of-run checks (registry = live processes, every worker serves, lease held);
 *   4. stops the tree in order (the registry stops every OS process last) and exits.
 *
 * Everything it observes goes to the driver in `report` messages every `reportMs`.
 */
import { currentNode, eventBus, isCleanExit, start } from '@trellis/core';
import type { ToolPool } from '@trellis/grpc-bridge';
import { callRegistry } from '@trellis/registry';
import type { LeaderReply } from './actors/leader-work.js';
import { CHAOS_DEFAULTS } from './defaults.js';
import { exitCode } from './fault-book.js';
import { FaultInjector } from './faults.js';
import {
  type CheckResult,
  type LeaderObservation,
  SUT_CONFIG_ENV,
  type SutFinal,
  type SutMessage,
  sutConfigFromEnv,
  type Termination,
} from './ipc.js';
import { CallLedger } from './ledger.js';
import { Load } from './load.js';
import { ObservationLog } from './observations.js';
import { joinRunCgroup } from './run-cgroup.js';
import { takeSample } from './sampler.js';
import { buildSchedule } from './schedule.js';
import { WorkerSightings } from './sightings.js';
import { leaseCheck, poolsServe, registryExact, untilWhole } from './sut-checks.js';
import { buildTree, NAMES } from './tree.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cfg = sutConfigFromEnv();
if (cfg === null || process.send === undefined) {
  console.error(
    `sut.js is started by the chaos driver (pnpm chaos / pnpm soak), with ${SUT_CONFIG_ENV} and an IPC channel`,
  );
  process.exit(2);
}
joinRunCgroup(cfg.cgroup);
const home = process.env.TRELLIS_HOME;
if (home === undefined) {
  console.error('sut.js needs TRELLIS_HOME (the registry directory shared by the runs of one suite)');
  process.exit(2);
}
const run = cfg.run;
const now = (): number => Date.now() - cfg.originEpochMs;
const send = (m: SutMessage): Promise<void> =>
  new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(m, undefined, {}, () => resolve());
  });

// ---- what is observed --------------------------------------------------------------------------------

const observed = new ObservationLog();
const { faults, exits, restarts, recycles, samples } = observed.all;
/** Every worker the bridge recycled, and every worker_exited event. */
const recycled = new WorkerSightings();
const exited = new WorkerSightings();
let recording = true;
const leader = {
  epochs: [] as number[],
  fencedWrites: 0,
  keeperLosses: undefined as number | undefined,
  role: undefined as string | undefined,
};

const tree = buildTree({ home, onStderr: (line, pid) => process.stderr.write(`[py ${pid}] ${line}\n`) });
const [poolA, poolB] = tree.pools as [ToolPool, ToolPool];
for (const pool of tree.pools) {
  pool.on((e) => {
    if (e.type === 'worker_exited') exited.see(pool.name, e.pid);
    if (!recording) return;
    // A recycled worker's old process ends with reason `recycled`: the recycle, not an exit.
    if (e.type === 'worker_recycled') {
      recycled.see(pool.name, e.pid);
      recycles.push({ run, group: pool.name, target: String(e.pid), atMs: now(), reason: e.reason });
    }
    if (
      e.type === 'worker_exited' &&
      e.reason.type !== 'normal' &&
      e.reason.type !== 'shutdown' &&
      e.reason.type !== 'recycled'
    )
      exits.push({
        run,
        group: pool.name,
        target: String(e.pid),
        atMs: now(),
        code: e.reason.code ?? e.reason.type,
      });
    if (e.type === 'worker_ready' && e.restart)
      restarts.push({ run, group: pool.name, target: String(e.pid), atMs: now() });
  });
}
eventBus(currentNode()).on((e) => {
  if (!recording) return;
  // Pool workers are the dynamic children of each pool's own supervisor: the pool events cover them.
  if (tree.pools.some((p) => p.pid === e.supervisor)) return;
  if (e.type === 'child_exited' && !isCleanExit(e.reason))
    exits.push({
      run,
      group: e.id,
      target: e.pid,
      atMs: now(),
      code: exitCode(e.reason as { type: string; cause?: unknown }),
    });
  if (e.type === 'child_restarted') restarts.push({ run, group: e.id, target: e.pid, atMs: now() });
});

function leaderObservation(): LeaderObservation {
  return { ...leader, epochs: [...leader.epochs] };
}

function onLeader(r: LeaderReply): void {
  leader.role = r.role;
  leader.keeperLosses = r.losses;
  if (r.role === 'leader' && r.epoch !== null) {
    if (!leader.epochs.includes(r.epoch)) leader.epochs.push(r.epoch);
    if (r.refused === undefined) leader.fencedWrites++;
  }
}

function workers(): { label: string; pid: number }[] {
  return tree.pools.flatMap((p) =>
    p.stats().workers.map((w) => ({ label: `${p.name}/${w.slot}`, pid: w.pid })),
  );
}

async function report(): Promise<void> {
  const m: SutMessage = {
    t: 'report',
    run,
    atMs: now(),
    ledger: ledger.snapshot(),
    observed: observed.takeNew(),
    leader: leaderObservation(),
  };
  await send(m);
}

// ---- start ---------------------------------------------------------------------------------------------

const ledger = new CallLedger({ slackMs: CHAOS_DEFAULTS.callSlackMs });
const t0 = performance.now();
console.error(`[sut ${run}] pid ${process.pid} starting the chaos tree (seed ${cfg.seed})`);
const app = await start(tree.spec, { exitProcess: false, name: NAMES.app });
const startMs = performance.now() - t0;
let stopping = false;
void app.done.then((reason) => {
  if (stopping) return;
  console.error(`[sut ${run}] the top supervisor exited on its own: ${JSON.stringify(reason)}`);
  void report().then(() => process.exit(1));
});
const runId = await callRegistry<string>(NAMES.registry, { op: 'runId' });
await send({
  t: 'ready',
  run,
  runId,
  pid: process.pid,
  atMs: now(),
  startMs,
  bootSweep: tree.bootSweep(),
  workerPids: Object.fromEntries(tree.pools.map((p) => [p.name, p.stats().workers.map((w) => w.pid)])),
});

const readyAt = now();
const load = new Load(cfg.seed, run, cfg.callers, ledger, { poolA, poolB, onLeader }, CHAOS_DEFAULTS.paceMs);
const injector = new FaultInjector({
  run,
  pools: tree.pools,
  ledger,
  now,
  record: (f) => faults.push(f),
  recycled,
  exited,
});
const timers: NodeJS.Timeout[] = [];
if (cfg.faults) {
  for (const f of buildSchedule(cfg.seed, cfg.durationMs).faults) {
    if (f.atMs < readyAt || f.atMs >= cfg.loadEndMs) continue;
    timers.push(setTimeout(() => injector.fire(f), f.atMs - now()));
  }
}
ledger.takeWindow();
let lastSample = performance.now();
timers.push(
  setInterval(() => {
    const t = performance.now();
    samples.push(takeSample(now(), t - lastSample, ledger.takeWindow(), workers()));
    lastSample = t;
  }, cfg.sampleMs),
);
timers.push(setInterval(() => void report(), cfg.reportMs));

await sleep(Math.max(0, cfg.loadEndMs - now()));

// ---- the end of the load: settle, check, stop ----------------------------------------------------------

for (const t of timers.splice(0)) clearTimeout(t);
const tSettle = performance.now();
await load.stop();
await withDeadline(injector.settle(), 30_000);
const left = await ledger.drain(CHAOS_DEFAULTS.faultCallTimeoutMs + CHAOS_DEFAULTS.callSlackMs);
const checkCtx = { pools: tree.pools, app: app.pid, leader: leaderObservation() };
const whole = await untilWhole(checkCtx, CHAOS_DEFAULTS.settleTimeoutMs);
await sleep(500); // late events of the last restarts
const checks: CheckResult[] = [];
const snap = ledger.snapshot();
checks.push({
  name: 'calls accounted',
  ok: left === 0 && snap.started === snap.ok + snap.failedClean + snap.unclean + snap.wrong + snap.hangs,
  detail: `${snap.started} started = ${snap.ok} ok + ${snap.failedClean} clean errors + ${snap.unclean} unclean + ${snap.wrong} wrong + ${snap.hangs} hung; ${left} without outcome`,
});
checks.push({
  name: 'no call lost',
  ok: snap.hangs === 0 && left === 0,
  detail: `${snap.hangs} hung, ${left} unsettled`,
});
checks.push({
  name: 'errors are clean',
  ok: snap.unclean === 0 && snap.wrong === 0,
  detail: `${snap.unclean} not TrellisError, ${snap.wrong} wrong results${snap.examples.length ? `; ${snap.examples.slice(0, 3).join(' | ')}` : ''}`,
});
checks.push({ name: 'tree whole again', ok: whole.ok, detail: whole.detail });
checks.push(await poolsServe(checkCtx));
const reg = await registryExact(checkCtx, runId);
checks.push(reg.check);
checks.push(await leaseCheck({ ...checkCtx, leader: leaderObservation() }));
{
  // Issue 13, defect 7: no worker above its maxRssMb by more than rssOvershoot (pool A has one; the
  // host reads each worker's RSS every 100 ms and keeps the peak).
  const peak = poolA.stats().peakWorkerRssBytes / 2 ** 20;
  const bound = CHAOS_DEFAULTS.poolAMaxRssMb * (1 + CHAOS_DEFAULTS.rssOvershoot);
  checks.push({
    name: 'peak worker RSS within its limit',
    ok: peak <= bound,
    detail: `pool-a peak ${peak.toFixed(1)} MiB, maxRssMb ${CHAOS_DEFAULTS.poolAMaxRssMb} (+${CHAOS_DEFAULTS.rssOvershoot * 100}%: ${bound.toFixed(0)} MiB)`,
  });
}
const pools: SutFinal['pools'] = Object.fromEntries(
  tree.pools.map((p) => {
    const s = p.stats();
    return [
      p.name,
      { size: s.size, ready: s.readyWorkers, restarts: s.restarts, pids: s.workers.map((w) => w.pid) },
    ];
  }),
);
await report();
const final: SutFinal = {
  ledger: snap,
  checks,
  settleMs: performance.now() - tSettle,
  pools,
  registry: reg.counts,
  leader: leaderObservation(),
};
await send({ t: 'final', run, atMs: now(), final });
recording = false;
stopping = true;
// An orderly stop must end every child with `shutdown` within its shutdown time; a `killed` here
// means a terminate did not finish in time (the supervisor had to kill it).
const terminations: Termination[] = [];
eventBus(currentNode()).on((e) => {
  if (e.type === 'child_terminated' && !tree.pools.some((p) => p.pid === e.supervisor))
    terminations.push({ id: e.id, reason: e.reason.type });
});
const tStop = performance.now();
await withDeadline(app.stop(), 60_000);
await tree.leaseStore.close();
await send({ t: 'stopped', run, atMs: now(), stopMs: performance.now() - tStop, terminations });
process.exit(0);

// ---- helpers ------------------------------------------------------------------------------------------

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    p,
    new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), ms))),
  ]);
  clearTimeout(timer);
  return r;
}
