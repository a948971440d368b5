/**
 * `pnpm example:leader`: a leader whose work keeps crashing, while its lease never lapses.
 *
 *   app                     one_for_one
 *   ├── trellis-health      healthMonitorChild: heartbeats, records in LMDB
 *   ├── lease-keeper:jobs   leaseKeeperChild: acquires the lease "jobs", renews it every TTL/3
 *   └── leader-work         the work: beats, asks the keeper for the epoch, writes fenced with it
 *
 * The keeper is the work's SIBLING: restarting the work (here: killing it ten times in 1.5 s, well
 * under one TTL) never stops the renewals, so the epoch stays and a follower never gets in. Were
 * the keeper the work's child, each crash would stop the renewals and hand leadership around.
 *
 * Run two copies at once (same directory: TRELLIS_HOME or ./.trellis) and the second one waits as a
 * follower; kill -9 the first and the second takes over after the TTL, with epoch + 1.
 */
import {
  type Clock,
  defineServer,
  exit,
  noreply,
  type Pid,
  type ServerContext,
  serverChild,
  start,
  whereis,
} from '@trellis/core';
import {
  fencedWrite,
  findHealthMonitor,
  healthMonitorChild,
  heartbeat,
  isLeading,
  type LeaseStatus,
  LmdbLeaseStore,
  leaseKeeperChild,
  leaseStatus,
  monitoredChild,
} from '@trellis/health';

const LEASE = 'jobs';
const TTL_MS = 3000;
const WORK_MS = 100;
const KEEPER = `lease:${LEASE}`;

const store = LmdbLeaseStore.open();
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${line}`);

interface Work {
  timer: ReturnType<Clock['setTimeout']> | undefined;
}

// The leader's work: every WORK_MS it beats and, while leading, records one job with its epoch as
// the fencing token. A deposed leader's late write would be refused (ERR_LEASE_FENCED).
const work = defineServer<Work, []>({
  init(ctx) {
    const s: Work = { timer: undefined };
    ctx.node.monitor(() => s.timer && ctx.clock.clearTimeout(s.timer), ctx.self);
    arm(ctx, s);
    return s;
  },
  async handleInfo(msg, s, ctx) {
    if (msg !== 'tick') return noreply(s);
    heartbeat(ctx);
    const st = await ctx.call<LeaseStatus>(KEEPER, { op: 'status' });
    if (isLeading(st) && st.epoch !== null) {
      const epoch = st.epoch;
      await fencedWrite({ store, name: LEASE }, epoch, (tx) => {
        const done = ((tx.get('jobs-done') as number | undefined) ?? 0) + 1;
        tx.put('jobs-done', done);
        tx.put('last-job', { by: process.pid, epoch, done });
      });
    }
    arm(ctx, s);
    return noreply(s);
  },
});

function arm(ctx: ServerContext, s: Work): void {
  s.timer = ctx.clock.setTimeout(() => ctx.alive && ctx.send(ctx.self, 'tick'), WORK_MS);
}

const app = await start(
  {
    flags: { strategy: 'one_for_one', intensity: 50, periodMs: 10_000 },
    children: [
      healthMonitorChild(),
      leaseKeeperChild({
        lease: LEASE,
        ttlMs: TTL_MS,
        onChange: (s) => log(`lease "${LEASE}": ${s.role}${s.epoch === null ? '' : `, epoch ${s.epoch}`}`),
      }),
      monitoredChild(
        { id: 'leader-work', start: serverChild(work, { name: 'leader-work' }) },
        { intervalMs: WORK_MS, policy: 'kill' },
      ),
    ],
  },
  { exitProcess: false },
);

async function status(): Promise<LeaseStatus> {
  return leaseStatus(KEEPER);
}

// A follower (another copy leads): wait, bounded, for the lease to come our way.
let st = await status();
for (let i = 0; i < 300 && st.role !== 'leader'; i++) {
  if (i === 0) log(`follower: lease held by ${st.holder?.id} at epoch ${st.currentEpoch}; waiting for it`);
  await new Promise((r) => setTimeout(r, 100));
  st = await status();
}
if (st.role !== 'leader') {
  log('still a follower after 30 s; stopping');
} else {
  const epoch = st.epoch;
  const renewalsBefore = st.renewals;
  log(`leader at epoch ${epoch}; now crashing the work 10 times in 1.5 s (TTL ${TTL_MS} ms)`);
  for (let i = 1; i <= 10; i++) {
    await new Promise((r) => setTimeout(r, 150));
    const pid = whereis('leader-work') as Pid | undefined;
    if (pid !== undefined) exit(pid, 'kill');
    await new Promise((r) => setTimeout(r, 5));
    const lease = store.getSync(LEASE)!;
    log(
      `crash ${String(i).padStart(2)}: work ${pid} killed, restarted as ${whereis('leader-work')}; epoch ${lease.epoch}, lease valid ${Math.round(lease.remainingMs)} ms more`,
    );
  }
  await new Promise((r) => setTimeout(r, 2 * WORK_MS));
  const after = await status();
  const lease = store.getSync(LEASE)!;
  const rec = findHealthMonitor()?.get('leader-work');
  log(`epoch before ${epoch}, after ${lease.epoch}: ${epoch === lease.epoch ? 'unchanged' : 'CHANGED'}`);
  log(`renewals during the crashes: ${after.renewals - renewalsBefore}, leases lost: ${after.losses}`);
  log(`jobs done (fenced writes): ${String(store.readFencedSync('jobs-done'))}`);
  if (rec)
    log(`health of leader-work: ${rec.state}, restarts ${rec.restarts}, last exit ${rec.lastExitReason}`);
}
await app.stop();
await store.close();
log('stopped (the keeper released the lease)');
