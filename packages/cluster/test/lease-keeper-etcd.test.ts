/**
 * leaseKeeperChild, unchanged, on EtcdLeaseStore across real OS processes and a real etcd:
 * failover after kill -9 of the holder within TTL + one renew interval with a new epoch; a paused
 * holder (SIGSTOP) steps down by its own deadline, and its late fenced write is refused; etcd lost
 * mid-run (SIGSTOP of etcd): the leader steps down by its deadline and takes the lease again when
 * etcd returns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hostMonotonicMs } from '@trellis/health';
import { EtcdLeaseStore, type LocalEtcd } from '../src/index.js';
import { type Child, Cleanup } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let n = 0;
/** Timers of a loaded 2-core machine fire late by up to this much; the bounds are the design's. */
const TOLERANCE_MS = 400;
const TTL = 2000;
const RENEW = 500;

before(async () => {
  etcd = await cleanup.etcd();
});
after(() => cleanup.run());

function node(prefix: string): Child {
  return cleanup.child('lease-node.js', [
    JSON.stringify({ endpoints: etcd.endpoints, prefix, lease: 'jobs', ttlMs: TTL, renewIntervalMs: RENEW }),
  ]);
}
const leader = (m: any) => m.op === 'status' && m.status.role === 'leader';

describe('lease keeper on etcd, across processes', () => {
  test('kill -9 of the holder: the other process leads within TTL + one renew interval, with a new epoch', async () => {
    const prefix = `/k${++n}/`;
    const a = node(prefix);
    const ra = await a.next((m) => m.op === 'ready', 'a ready');
    assert.equal(ra.status.role, 'leader');
    const b = node(prefix);
    const rb = await b.next((m) => m.op === 'ready', 'b ready');
    assert.equal(rb.status.role, 'follower');
    assert.equal(rb.status.holder.id, ra.holder);
    // Let a renew a few times, so that the kill falls at a random point of its renewal cycle.
    await new Promise((r) => setTimeout(r, 3 * RENEW + Math.random() * RENEW));
    const killedAt = hostMonotonicMs();
    a.kill9();
    const took = await b.after(leader, 'b leads', 10_000);
    const gap = took.at - killedAt;
    assert.ok(took.status.epoch > ra.status.epoch, `epoch ${ra.status.epoch} -> ${took.status.epoch}`);
    assert.ok(
      gap <= TTL + RENEW + TOLERANCE_MS,
      `took over ${Math.round(gap)} ms after the kill (bound ${TTL + RENEW})`,
    );
    await b.stop();
  });

  test('a paused holder steps down by its own deadline; its late fenced write is refused after the takeover', async () => {
    const prefix = `/k${++n}/`;
    const a = node(prefix);
    const ra = await a.next((m) => m.op === 'ready', 'a ready');
    assert.equal(ra.status.role, 'leader');
    const b = node(prefix);
    await b.next((m) => m.op === 'ready', 'b ready');
    a.proc.kill('SIGSTOP');
    const took = await b.after(leader, 'b leads', 10_000);
    assert.ok(took.status.epoch > ra.status.epoch);
    const down = a.after((m) => m.op === 'status' && m.status.role === 'follower', 'a steps down', 10_000);
    a.proc.kill('SIGCONT');
    const d = await down;
    assert.equal(d.status.losses, 1);
    a.send({ op: 'write', epoch: ra.status.epoch });
    const w = await a.after((m) => m.op === 'refused' || m.op === 'written', 'late write outcome');
    assert.deepEqual([w.op, w.code, w.refusal], ['refused', 'ERR_LEASE_FENCED', 'superseded']);
    const store = await EtcdLeaseStore.open({ etcd: { endpoints: etcd.endpoints }, prefix });
    try {
      // Nothing, or a write of a tenure (the new leader's, or the old one's before the pause): never the late write.
      const owner = (await store.readFenced('owner')) as { pid?: number; late?: number } | undefined;
      assert.equal(owner?.late, undefined, 'no late write landed');
    } finally {
      await store.close();
    }
    await Promise.all([a.stop(), b.stop()]);
  });

  test('etcd lost mid-run: the leader steps down by its own deadline, keeps running, and leads again when etcd returns', async () => {
    const prefix = `/k${++n}/`;
    const a = node(prefix);
    const ra = await a.next((m) => m.op === 'ready', 'a ready');
    assert.equal(ra.status.role, 'leader');
    await new Promise((r) => setTimeout(r, RENEW * 2));
    const m = etcd.members[0]!;
    const stoppedAt = hostMonotonicMs();
    m.proc!.kill('SIGSTOP');
    try {
      const d = await a.after((x) => x.op === 'status' && x.status.role === 'follower', 'step down', 10_000);
      // The deadline counts from the send time of the last answered keep-alive, which preceded the stop.
      assert.ok(
        d.at - stoppedAt <= TTL + TOLERANCE_MS,
        `stepped down ${Math.round(d.at - stoppedAt)} ms after etcd stopped`,
      );
      assert.ok(d.at - stoppedAt >= TTL - RENEW - 300, 'not before the lease could have lapsed');
    } finally {
      m.proc!.kill('SIGCONT');
    }
    const back = await a.after(leader, 'leads again', 15_000);
    assert.ok(back.status.epoch !== null);
    await a.stop();
  });
});
