/**
 * EtcdLeaseStore against a real etcd (started by the test on free 127.0.0.1 ports): the LeaseStore
 * contract of docs/leases.md with epoch = create_revision, fencing in one txn, the STM read set,
 * deadlines from the send time, expiry by etcd, ERR_CLUSTER_UNAVAILABLE at start.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LeaseFencedError } from '@trellis/health';
import { EtcdConnection, EtcdLeaseStore, freePort, type LocalEtcd } from '../src/index.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let conn: EtcdConnection;
let n = 0;
const fresh = () => `/t${++n}/`;
const A = { id: 'node-a', label: 'a' };
const B = { id: 'node-b', label: 'b' };

before(async () => {
  etcd = await cleanup.etcd();
  conn = await EtcdConnection.connect({ endpoints: etcd.endpoints });
  cleanup.add(() => conn.close());
});
after(() => cleanup.run());

describe('EtcdLeaseStore', () => {
  test('grant: epoch is the key create_revision; a rival is refused and sees the holder; the holder re-grants the same epoch', async () => {
    const prefix = fresh();
    const a = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const b = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const sent = a.now();
    const g = await a.grant('jobs', A, 3000);
    const done = a.now();
    assert.equal(g.granted, true);
    const kv = (await conn.range(a.leaseKey('jobs'))).kv!;
    assert.equal(g.lease.epoch, Number(kv.create_revision));
    // The default margin is max(100 ms, ttl / 10): the deadline is the grant's send time + 2700 ms.
    assert.ok(
      g.lease.expiresAt >= sent + 2700 && g.lease.expiresAt <= done + 2700,
      'deadline = send time + TTL - margin',
    );
    const r = await b.grant('jobs', B, 3000);
    assert.equal(r.granted, false);
    assert.equal(r.lease.holder?.id, 'node-a');
    assert.equal(r.lease.epoch, g.lease.epoch);
    assert.ok(r.lease.remainingMs > 1000);
    const again = await a.grant('jobs', A, 3000);
    assert.equal(again.granted, true);
    assert.equal(again.lease.epoch, g.lease.epoch);
    const ka = await a.keepAlive('jobs', 'node-a', g.lease.epoch);
    assert.equal(ka.renewed, true);
    const other = await b.keepAlive('jobs', 'node-b', g.lease.epoch);
    assert.deepEqual([other.renewed, !other.renewed && other.reason], [false, 'not_holder']);
    assert.equal((await b.list()).length, 1);
    assert.equal((await b.get('jobs'))?.holder?.id, 'node-a');
  });

  test('revoke hands over: the next holder has a higher epoch; the old epoch is refused for renewals and fenced writes', async () => {
    const prefix = fresh();
    const a = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const b = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const g = await a.grant('jobs', A, 2000);
    assert.ok(g.granted);
    const e1 = g.lease.epoch;
    assert.equal(await a.fencedWrite('jobs', e1, (tx) => tx.put('row', { by: 'a', e: e1 })), undefined);
    assert.deepEqual(await b.readFenced('row'), { by: 'a', e: e1 });
    assert.equal(await b.revoke('jobs', 'node-b', e1), false, 'only the holder releases');
    assert.equal(await a.revoke('jobs', 'node-a', e1), true);
    assert.equal(await a.get('jobs'), undefined);
    const g2 = await b.grant('jobs', B, 2000);
    assert.ok(g2.granted);
    assert.ok(g2.lease.epoch > e1, `epoch grows: ${e1} -> ${g2.lease.epoch}`);
    const late = await a.keepAlive('jobs', 'node-a', e1);
    assert.deepEqual([late.renewed, !late.renewed && late.reason], [false, 'superseded']);
    await assert.rejects(
      a.fencedWrite('jobs', e1, (tx) => tx.put('row', 'late')),
      (e: LeaseFencedError) => e.code === 'ERR_LEASE_FENCED' && e.refusal === 'superseded',
    );
    await assert.rejects(a.checkFence('jobs', e1), { code: 'ERR_LEASE_FENCED' });
    assert.equal((await b.checkFence('jobs', g2.lease.epoch)).epoch, g2.lease.epoch);
    assert.deepEqual(await b.readFenced('row'), { by: 'a', e: e1 }, 'the late write changed nothing');
    await assert.rejects(
      b.fencedWrite('jobs', g2.lease.epoch + 100, (tx) => tx.put('row', 'x')),
      (e: LeaseFencedError) => e.refusal === 'unknown_epoch',
    );
  });

  test('fencedWrite reads inside the txn (etcd STM): two stores each incrementing 25 times at once lose none', async () => {
    const prefix = fresh();
    const a = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const b = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const g = await a.grant('ctr', A, 5000);
    assert.ok(g.granted);
    const inc = (s: EtcdLeaseStore) =>
      s.fencedWrite('ctr', g.lease.epoch, (tx) => {
        const v = (tx.get('n') as number | undefined) ?? 0;
        tx.put('n', v + 1);
        tx.remove('gone');
        return v + 1;
      });
    const results: number[] = [];
    const run = async (s: EtcdLeaseStore) => {
      for (let i = 0; i < 25; i++) results.push(await inc(s));
    };
    await Promise.all([run(a), run(b)]);
    assert.equal(await a.readFenced('n'), 50);
    assert.deepEqual(
      [...results].sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });

  test('an abandoned lease is deleted by etcd after its TTL; the deadline the holder got had passed before that', async () => {
    const prefix = fresh();
    const a = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const b = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const g = await a.grant('jobs', A, 1000);
    assert.ok(g.granted);
    const gone = await waitFor(
      async () => ((await b.get('jobs')) === undefined ? b.now() : false),
      'expiry',
      5000,
      20,
    );
    assert.ok(
      gone >= g.lease.expiresAt,
      `etcd deleted the key at ${gone}, after our deadline ${g.lease.expiresAt}`,
    );
    const g2 = await b.grant('jobs', B, 1000);
    assert.ok(g2.granted && g2.lease.epoch > g.lease.epoch);
    await assert.rejects(
      a.fencedWrite('jobs', g.lease.epoch, (tx) => tx.put('x', 1)),
      { code: 'ERR_LEASE_FENCED' },
    );
    await b.revoke('jobs', 'node-b', g2.lease.epoch);
  });

  test('watch announces a release at once', async () => {
    const prefix = fresh();
    const a = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const b = await EtcdLeaseStore.open({ etcd: conn, prefix });
    const g = await a.grant('w', A, 3000);
    assert.ok(g.granted);
    let seen = 0;
    const un = b.watch('w', () => seen++);
    await new Promise((r) => setTimeout(r, 200)); // the watch is created asynchronously
    await a.revoke('w', 'node-a', g.lease.epoch);
    await waitFor(() => seen > 0, 'watch event', 3000);
    un();
    await b.close();
    await a.close();
    await assert.rejects(a.get('w'), { code: 'ERR_LEASE_STORE_CLOSED' });
  });

  test('etcd unreachable at start: ERR_CLUSTER_UNAVAILABLE naming the endpoints and the fix', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await assert.rejects(
      EtcdLeaseStore.open({ etcd: { endpoints: [url], dialTimeoutMs: 500 } }),
      (e: Error & { code: string }) =>
        e.code === 'ERR_CLUSTER_UNAVAILABLE' && e.message.includes(url) && e.message.includes('start etcd'),
    );
  });
});
