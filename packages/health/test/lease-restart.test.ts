/**
 * The design point: the lease keeper is a SIBLING of the leader's work. Restarting the work twenty
 * times within one TTL never stops the renewals: the epoch never changes, the lease never lapses
 * (a rival candidate polling right at every expiry never gets it), and every incarnation of the work
 * writes with the same epoch. The contrast: with the keeper inside the work's subtree, every restart
 * of the work changes the epoch, which is the failure this design prevents.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  awaitExit,
  type ChildSpec,
  defineServer,
  Exit,
  exit,
  noreply,
  type Pid,
  SimulatedClock,
  serverChild,
  settle,
  startSupervisor,
  supervisorChild,
} from '@trellis/core';
import {
  fencedWrite,
  type LeaseStatus,
  LmdbLeaseStore,
  leaseKeeperChild,
  leaseStatus,
} from '../src/index.js';
import { Cleanup } from './helpers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const TTL = 1000;
const INTERVAL = 250;

interface Seen {
  readonly pids: Pid[];
  readonly epochs: number[];
}

/** The leader's work: at init it asks the keeper for the epoch and does one fenced write with it. */
function workChild(store: LmdbLeaseStore, keeper: string, seen: Seen): ChildSpec {
  const work = defineServer<null, []>({
    async init(ctx) {
      seen.pids.push(ctx.self);
      const st = await ctx.call<LeaseStatus>(keeper, { op: 'status' });
      if (st.epoch === null) throw new Error('started without the lease');
      seen.epochs.push(st.epoch);
      await fencedWrite({ store, name: 'L' }, st.epoch, (tx) =>
        tx.put('writes', ((tx.get('writes') as number) ?? 0) + 1),
      );
      return null;
    },
    handleInfo: (_m, s) => noreply(s),
  });
  return { id: 'work', start: serverChild(work) };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await settle();
  assert.ok(cond(), `never happened: ${what}`);
}

describe("lease keeper as a sibling of the leader's work", () => {
  test('20 restarts of the work within one TTL: no epoch change, no lapse, renewals go on', async () => {
    const clock = new SimulatedClock(0);
    const store = LmdbLeaseStore.open({ dir: cleanup.dir(), now: () => clock.now() });
    const seen: Seen = { pids: [], epochs: [] };
    const sup = await startSupervisor(
      {
        flags: { strategy: 'one_for_one', intensity: 100, periodMs: 60_000 },
        children: [
          leaseKeeperChild({ lease: 'L', ttlMs: TTL, renewIntervalMs: INTERVAL, store, name: 'keeper' }),
          // A rival candidate (as if in another process): it would take the lease at the first lapse.
          leaseKeeperChild({
            lease: 'L',
            ttlMs: TTL,
            renewIntervalMs: INTERVAL,
            store,
            name: 'rival',
            id: 'rival',
            holder: { id: 'rival' },
          }),
          workChild(store, 'keeper', seen),
        ],
      },
      { clock },
    );
    try {
      const start = store.getSync('L')!;
      assert.equal(start.epoch, 1);
      const keeperBefore = await leaseStatus('keeper');
      const startedAt = clock.now();
      for (let i = 1; i <= 20; i++) {
        await clock.advance(45);
        exit(seen.pids[i - 1]!, 'kill');
        await until(() => seen.epochs.length === i + 1, `restart ${i}`);
        const now = store.getSync('L')!;
        assert.equal(now.epoch, start.epoch, `epoch unchanged after restart ${i}`);
        assert.equal(now.holder!.id, start.holder!.id);
        assert.equal(now.expired, false, `no lapse at restart ${i}`);
      }
      assert.ok(clock.now() - startedAt < TTL, 'all twenty restarts happened within one TTL');
      assert.equal(new Set(seen.pids).size, 21);
      assert.deepEqual(
        seen.epochs,
        Array(21).fill(start.epoch),
        'every incarnation of the work wrote with the same epoch',
      );
      assert.equal(await store.readFenced('writes'), 21, 'and every fenced write went through');
      const keeperAfter = await leaseStatus('keeper');
      assert.ok(
        keeperAfter.renewals >= keeperBefore.renewals + 3,
        `renewals went on: ${keeperAfter.renewals}`,
      );
      assert.equal(keeperAfter.losses, 0);
      // Keep going for several TTLs: still the same tenure, and the rival never got in.
      await clock.advance(3 * TTL);
      assert.equal(store.getSync('L')!.epoch, start.epoch);
      const rival = await leaseStatus('rival');
      assert.equal(rival.role, 'follower');
      assert.equal(rival.acquisitions, 0);
    } finally {
      const done = awaitExit(sup);
      exit(sup, Exit.shutdown());
      await done;
      await store.close();
    }
  });

  test("contrast: with the keeper inside the work's subtree, each restart of the work changes the epoch", async () => {
    const clock = new SimulatedClock(0);
    const store = LmdbLeaseStore.open({ dir: cleanup.dir(), now: () => clock.now() });
    const seen: Seen = { pids: [], epochs: [] };
    const sup = await startSupervisor(
      {
        flags: { intensity: 100, periodMs: 60_000 },
        children: [
          {
            id: 'leader',
            type: 'supervisor',
            // The anti-pattern: whoever restarts the work restarts (stops) the heartbeat service too.
            start: supervisorChild({
              flags: { strategy: 'one_for_all', intensity: 100, periodMs: 60_000 },
              children: [
                leaseKeeperChild({
                  lease: 'L',
                  ttlMs: TTL,
                  renewIntervalMs: INTERVAL,
                  store,
                  name: 'keeper',
                }),
                workChild(store, 'keeper', seen),
              ],
            }),
          },
        ],
      },
      { clock },
    );
    try {
      for (let i = 1; i <= 5; i++) {
        await clock.advance(45);
        exit(seen.pids[i - 1]!, 'kill');
        await until(() => seen.epochs.length === i + 1, `restart ${i}`);
      }
      assert.deepEqual(seen.epochs, [1, 2, 3, 4, 5, 6], 'leadership changed hands at every restart');
    } finally {
      const done = awaitExit(sup);
      exit(sup, Exit.shutdown());
      await done;
      await store.close();
    }
  });
});
