/**
 * Lease semantics on a real LMDB file, with the store clock injected: acquire, renew only while the
 * holder, release, read, epochs (+1 per new tenure, +1 when acquiring an expired lease), fencing,
 * records from another boot, and bad input.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { open } from 'lmdb';
import { checkFence, fencedWrite, hostInfo, Lease, type LeaseHolder, LmdbLeaseStore } from '../src/index.js';
import { Cleanup } from './helpers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const A: LeaseHolder = { id: 'holder-a', label: 'a' };
const B: LeaseHolder = { id: 'holder-b', label: 'b' };

function storeAt(dir: string): { store: LmdbLeaseStore; clock: { t: number } } {
  const clock = { t: 1_000 };
  return { store: LmdbLeaseStore.open({ dir, now: () => clock.t }), clock };
}

describe('leases: one store, injected clock', () => {
  test('acquire, renew only as holder, expiry, epoch + 1 on takeover, fencing, release', async () => {
    const { store, clock } = storeAt(cleanup.dir());
    try {
      const a1 = await store.grant('db', A, 100);
      assert.ok(a1.granted);
      assert.equal(a1.lease.epoch, 1);
      assert.equal(a1.lease.expiresAt, 1_100);
      assert.equal(a1.previous, undefined);

      const b1 = await store.grant('db', B, 100);
      assert.equal(b1.granted, false);
      assert.equal(b1.lease.holder?.id, 'holder-a', 'the refusal names the holder');

      clock.t = 1_060;
      const r1 = await store.keepAlive('db', 'holder-a', 1);
      assert.ok(r1.renewed);
      assert.equal(r1.lease.expiresAt, 1_160);
      assert.equal(r1.lease.epoch, 1, 'renewing never changes the epoch');
      assert.deepEqual(await store.keepAlive('db', 'holder-b', 1), {
        renewed: false,
        reason: 'not_holder',
        lease: r1.lease,
      });
      assert.equal((await store.keepAlive('db', 'holder-a', 2)).renewed, false);

      // Fenced writes with the current epoch pass; the check and the write are one step.
      assert.equal(await store.fencedWrite('db', 1, (tx) => tx.put('row', 'by a@1')), undefined);

      clock.t = 1_160; // exactly at expiresAt: expired
      const r2 = await store.keepAlive('db', 'holder-a', 1);
      assert.equal(r2.renewed, false);
      assert.equal(
        !r2.renewed && r2.reason,
        'expired',
        'a lapsed lease cannot be renewed, even if nobody took it',
      );
      await assert.rejects(store.checkFence('db', 1), { code: 'ERR_LEASE_FENCED' });

      const b2 = await store.grant('db', B, 100);
      assert.ok(b2.granted);
      assert.equal(b2.lease.epoch, 2, 'acquiring an expired lease bumps the epoch');
      assert.equal(b2.granted && b2.previous?.holder?.id, 'holder-a');

      await assert.rejects(
        store.fencedWrite('db', 1, (tx) => tx.put('row', 'late write by a@1')),
        (e: { code?: string; refusal?: string }) =>
          e.code === 'ERR_LEASE_FENCED' && e.refusal === 'superseded',
      );
      assert.equal(await store.readFenced('row'), 'by a@1', 'the refused write wrote nothing');
      await assert.rejects(
        store.fencedWrite('db', 3, () => 0),
        { code: 'ERR_LEASE_FENCED', refusal: 'unknown_epoch' },
      );
      await store.fencedWrite('db', 2, (tx) => tx.put('row', `by b@2 after ${String(tx.get('row'))}`));
      assert.equal(await store.readFenced('row'), 'by b@2 after by a@1');

      assert.equal(await store.revoke('db', 'holder-a', 2), false, 'only the holder releases');
      assert.equal(await store.revoke('db', 'holder-b', 2), true);
      const released = (await store.get('db'))!;
      assert.equal(released.holder, null);
      assert.equal(released.expired, true);
      assert.equal(released.epoch, 2);
      await assert.rejects(store.checkFence('db', 2), { code: 'ERR_LEASE_FENCED', refusal: 'released' });

      const a3 = await store.grant('db', A, 100);
      assert.ok(a3.granted);
      assert.equal(a3.lease.epoch, 3, 'every new tenure gets a new epoch');
      assert.deepEqual(
        (await store.list()).map((l) => [l.name, l.holder?.id, l.epoch]),
        [['db', 'holder-a', 3]],
      );
    } finally {
      await store.close();
    }
  });

  test('the holder acquiring again while valid continues its tenure; after expiry it gets a new epoch', async () => {
    const { store, clock } = storeAt(cleanup.dir());
    try {
      assert.equal((await store.grant('x', A, 100)).lease.epoch, 1);
      clock.t += 50;
      const again = await store.grant('x', A, 100);
      assert.ok(again.granted);
      assert.equal(again.lease.epoch, 1);
      assert.equal(again.lease.expiresAt, clock.t + 100);
      clock.t += 100;
      assert.equal((await store.grant('x', A, 100)).lease.epoch, 2);
    } finally {
      await store.close();
    }
  });

  test('the Lease handle and the fencedWrite/checkFence functions', async () => {
    const { store, clock } = storeAt(cleanup.dir());
    try {
      const a = new Lease(store, 'job', { ttlMs: 100, holder: A });
      const b = new Lease(store, 'job', { ttlMs: 100, holder: B });
      assert.ok((await a.acquire()).granted);
      assert.equal(a.epoch, 1);
      assert.equal((await b.acquire()).granted, false);
      assert.equal(b.epoch, undefined);
      assert.equal((await b.renew()).renewed, false, 'b never held it');
      clock.t += 90;
      assert.ok((await a.renew()).renewed);
      assert.equal((await checkFence(a, 1)).holder?.id, 'holder-a');
      const written = await fencedWrite(a, 1, (tx) => {
        tx.put('k', 1);
        return 'done';
      });
      assert.equal(written, 'done');
      clock.t += 100;
      assert.ok((await b.acquire()).granted);
      assert.equal(b.epoch, 2);
      assert.equal((await a.renew()).renewed, false);
      assert.equal(a.epoch, undefined, 'a knows it lost the lease');
      await assert.rejects(
        fencedWrite({ store, name: 'job' }, 1, (tx) => tx.put('k', 2)),
        { code: 'ERR_LEASE_FENCED' },
      );
      assert.equal(await store.readFenced('k'), 1);
      assert.equal(await b.release(), true);
      assert.equal((await b.read())!.holder, null);
    } finally {
      await store.close();
    }
  });

  test('a lease recorded under another boot id is expired, whatever its deadline says', async () => {
    const dir = cleanup.dir();
    const { store } = storeAt(dir);
    await store.close();
    const raw = open({ path: join(dir, 'leases.mdb') });
    await raw.put('lease:old', {
      name: 'old',
      holder: { id: 'before-reboot' },
      epoch: 7,
      ttlMs: 1e9,
      grantedAt: 0,
      renewedAt: 0,
      expiresAt: 1e12,
      renewals: 0,
      wallExpiresAt: 0,
      bootId: `not-${hostInfo().bootId}`,
    });
    await raw.close();
    const again = storeAt(dir).store;
    try {
      assert.equal((await again.get('old'))!.expired, true);
      const g = await again.grant('old', A, 100);
      assert.ok(g.granted);
      assert.equal(g.lease.epoch, 8);
    } finally {
      await again.close();
    }
  });

  test('bad input is refused with ERR_INVALID_LEASE_OPTIONS; a closed store with ERR_LEASE_STORE_CLOSED', async () => {
    const { store } = storeAt(cleanup.dir());
    await assert.rejects(store.grant('', A, 100), { code: 'ERR_INVALID_LEASE_OPTIONS' });
    await assert.rejects(store.grant('n', A, 0), { code: 'ERR_INVALID_LEASE_OPTIONS' });
    await assert.rejects(store.grant('n', { id: '' }, 100), { code: 'ERR_INVALID_LEASE_OPTIONS' });
    await assert.rejects(store.keepAlive('n', 'x', 0), { code: 'ERR_INVALID_LEASE_OPTIONS' });
    await assert.rejects(
      store.fencedWrite('n', 1.5, () => 0),
      { code: 'ERR_INVALID_LEASE_OPTIONS' },
    );
    assert.throws(() => new Lease(store, 'n', { ttlMs: Number.NaN }), { code: 'ERR_INVALID_LEASE_OPTIONS' });
    await store.close();
    await assert.rejects(store.get('n'), { code: 'ERR_LEASE_STORE_CLOSED' });
  });
});
