/**
 * Leases across real OS processes sharing one LMDB directory: one grant out of many simultaneous
 * attempts, renewals seen by other processes, fenced writes, and failover after a kill -9 of the
 * leader within TTL + one renew interval (measured in real time, which is what is under test).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { defaultHolder, hostMonotonicMs, LmdbLeaseStore } from '../src/index.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

/**
 * Tolerance for scheduling on a loaded 2-core machine: timers of the follower process may fire late
 * by this much. The bounds themselves (TTL, TTL + one interval) are the design's, not tuned.
 */
const TOLERANCE_MS = 300;

describe('leases across OS processes', () => {
  test('many processes race for a free lease: exactly one is granted', async () => {
    const dir = cleanup.dir();
    const racers = Array.from({ length: 4 }, () =>
      cleanup.child('lease-node.js', [dir, 'race', '5000', '1000', 'race']),
    );
    await Promise.all(racers.map((r) => r.next((m) => m.op === 'ready', 'racer ready')));
    for (const r of racers) r.proc.stdin!.write('go\n');
    const results = await Promise.all(racers.map((r) => r.next((m) => m.op === 'race', 'race result')));
    const winners = results.filter((r) => r.granted);
    assert.equal(winners.length, 1, `exactly one grant, got ${JSON.stringify(results)}`);
    assert.ok(
      results.every((r) => r.epoch === 1 && r.holder === winners[0].holder),
      'every loser saw the winner at epoch 1',
    );
    const store = LmdbLeaseStore.open({ dir });
    try {
      assert.equal((await store.get('race'))!.holder!.id, winners[0].holder);
    } finally {
      await store.close();
    }
    await Promise.all(racers.map((r) => r.stop()));
  });

  test('the leader renews and writes fenced; another process sees it, cannot acquire, and cannot write with a wrong epoch', async () => {
    const dir = cleanup.dir();
    const leader = cleanup.child('lease-node.js', [dir, 'jobs', '600', '150', 'keeper']);
    const lr = await leader.next((m) => m.op === 'ready', 'leader ready');
    assert.equal(lr.status.role, 'leader');
    assert.equal(lr.status.epoch, 1);
    const follower = cleanup.child('lease-node.js', [dir, 'jobs', '600', '150', 'keeper']);
    const fr = await follower.next((m) => m.op === 'ready', 'follower ready');
    assert.equal(fr.status.role, 'follower');
    assert.equal(fr.status.holder.id, lr.holder);

    const store = LmdbLeaseStore.open({ dir });
    try {
      const first = (await store.get('jobs'))!;
      assert.equal(first.holder!.pid, leader.pid);
      // Renewals by the leader process, seen from this one: the deadline moves, the epoch stays.
      let renewed = first;
      await waitFor(() => {
        renewed = store.getSync('jobs')!;
        return renewed.renewals >= first.renewals + 3;
      }, 'three renewals');
      assert.equal(renewed.epoch, 1);
      assert.ok(renewed.expiresAt > first.expiresAt);
      assert.equal(renewed.expired, false);

      const mine = await store.grant('jobs', defaultHolder('test'), 600);
      assert.equal(mine.granted, false, 'this process cannot take a held lease');
      const owner = await waitFor(
        () => store.readFencedSync('owner') as { pid: number; epoch: number } | undefined,
        'a fenced write',
      );
      assert.deepEqual([owner.pid, owner.epoch], [leader.pid, 1]);
      await assert.rejects(
        store.fencedWrite('jobs', 2, (tx) => tx.put('owner', 'forged')),
        { code: 'ERR_LEASE_FENCED' },
      );
      assert.notEqual(store.readFencedSync('owner'), 'forged');

      follower.proc.stdin!.write('status\n');
      const again = await follower.next((m) => m.op === 'reply', 'follower status');
      assert.equal(again.status.role, 'follower');
      assert.equal(again.status.acquisitions, 0);
    } finally {
      await store.close();
    }
    await follower.stop();
    await leader.stop();
    const store2 = LmdbLeaseStore.open({ dir });
    try {
      assert.equal((await store2.get('jobs'))!.holder, null, 'an orderly stop releases the lease');
    } finally {
      await store2.close();
    }
  });

  test('kill -9 of the leader: a follower process takes over after the TTL, within one renew interval, with epoch + 1', async () => {
    const ttl = 800;
    const interval = 200;
    const dir = cleanup.dir();
    const leader = cleanup.child('lease-node.js', [dir, 'primary', String(ttl), String(interval), 'keeper']);
    const lr = await leader.next((m) => m.op === 'ready', 'leader ready');
    assert.equal(lr.status.role, 'leader');
    const epoch = lr.status.epoch as number;
    const follower = cleanup.child('lease-node.js', [
      dir,
      'primary',
      String(ttl),
      String(interval),
      'keeper',
    ]);
    assert.equal((await follower.next((m) => m.op === 'ready', 'follower ready')).status.role, 'follower');
    const store = LmdbLeaseStore.open({ dir });
    try {
      await waitFor(
        () => (store.readFencedSync('owner') as { epoch?: number } | undefined)?.epoch === epoch,
        'the leader writing',
      );

      const killedAt = hostMonotonicMs();
      leader.kill9();
      await leader.exited;
      // Nobody can renew any more: this is the deadline the follower has to respect.
      const orphaned = store.getSync('primary')!;
      assert.equal(orphaned.epoch, epoch);
      assert.equal(orphaned.holder!.pid, leader.pid);

      const took = await follower.next(
        (m) => m.op === 'status' && m.status.role === 'leader',
        'the follower taking over',
        10_000,
      );
      assert.equal(took.status.epoch, epoch + 1);
      const failoverMs = took.at - killedAt;
      const afterExpiryMs = took.at - orphaned.expiresAt;
      assert.ok(
        afterExpiryMs >= 0,
        `never before the old lease expired (took over ${afterExpiryMs} ms after expiry)`,
      );
      assert.ok(
        afterExpiryMs <= interval + TOLERANCE_MS,
        `within one renew interval of expiry (+${TOLERANCE_MS} ms tolerance): ${afterExpiryMs.toFixed(1)} ms`,
      );
      assert.ok(
        failoverMs <= ttl + interval + TOLERANCE_MS,
        `failover within TTL + one interval (+${TOLERANCE_MS} ms tolerance): ${failoverMs.toFixed(1)} ms`,
      );

      // The deposed epoch is fenced off; the new leader's writes go through.
      await assert.rejects(
        store.fencedWrite('primary', epoch, (tx) => tx.put('owner', 'late write of the old leader')),
        {
          code: 'ERR_LEASE_FENCED',
          refusal: 'superseded',
        },
      );
      const owner = await waitFor(() => {
        const o = store.readFencedSync('owner') as { pid: number; epoch: number } | string | undefined;
        return typeof o === 'object' && o.epoch === epoch + 1 ? o : undefined;
      }, 'the new leader writing');
      assert.equal(owner.pid, follower.pid);
    } finally {
      await store.close();
    }
    await follower.stop();
  });
});
