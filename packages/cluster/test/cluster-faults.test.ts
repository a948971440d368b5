/**
 * Faults of etcd itself, with real processes: etcd lost mid-run (SIGSTOP of the only member) and
 * kill -9 of the etcd leader of a 3-member etcd. Partitions are in cluster-partition.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { hostMonotonicMs } from '@trellis/health';
import type { LocalEtcd } from '../src/index.js';
import { type Child, Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());
let seq = 0;
/** Timers of a loaded 2-core machine fire late by up to this much; the bounds are the design's. */
const TOLERANCE_MS = 400;

function startNode(etcd: LocalEtcd, cluster: string, node: string, more: Record<string, unknown>): Child {
  return cleanup.child('cluster-node.js', [
    JSON.stringify({ endpoints: etcd.endpoints, cluster, node, ...more }),
  ]);
}
async function ask(c: Child, cmd: Record<string, unknown>, timeoutMs = 10_000): Promise<any> {
  const id = ++seq;
  const p = c.after((m) => m.id === id, `${String(cmd.op)} answer`, timeoutMs);
  c.send({ ...cmd, id });
  return p;
}

describe('etcd faults', () => {
  test('etcd lost mid-run: the lease steps down by its deadline, local supervision goes on, the node rejoins when etcd returns', async () => {
    const etcd = await cleanup.etcd();
    const cluster = `l${Date.now()}`;
    const LEASE_TTL = 2000;
    const a = startNode(etcd, cluster, 'a', { memberTtlMs: 1000, leaseTtlMs: LEASE_TTL });
    await a.next((m) => m.op === 'ready', 'a ready');
    const b = startNode(etcd, cluster, 'b', { memberTtlMs: 1000 });
    await b.next((m) => m.op === 'ready', 'b ready');
    const led = await a.next((m) => m.op === 'lease' && m.status.role === 'leader', 'a leads');
    const before = await ask(a, { op: 'local-call', req: 1 });
    await new Promise((r) => setTimeout(r, 700));
    const m = etcd.members[0]!;
    const stoppedAt = hostMonotonicMs();
    m.proc!.kill('SIGSTOP');
    let down: any;
    try {
      down = await a.after((x) => x.op === 'lease' && x.status.role === 'follower', 'step down', 10_000);
      assert.ok(
        down.at - stoppedAt <= LEASE_TTL + TOLERANCE_MS,
        `stepped down ${Math.round(down.at - stoppedAt)} ms after etcd stopped`,
      );
      // Local supervision does not depend on etcd: the local server answers, same process.
      const during = await ask(a, { op: 'local-call', req: 2 });
      assert.equal(during.v.pid, before.v.pid);
      await waitFor(
        async () => (await ask(a, { op: 'self' })).state === 'disconnected',
        'a counts itself disconnected',
        5000,
        100,
      );
    } finally {
      m.proc!.kill('SIGCONT');
    }
    await waitFor(async () => (await ask(a, { op: 'self' })).state === 'up', 'a up again', 15_000, 100);
    // Once back, the cluster works again: b reaches a's global name (re-registered if a rejoined).
    await waitFor(
      async () => (await ask(b, { op: 'call', name: 'echo-a', req: 'back' })).v?.node === 'a',
      'b calls a',
      15_000,
      200,
    );
    const leadsAgain = await waitFor(
      async () => {
        const s = (await ask(a, { op: 'lease-status' })).status;
        return s.role === 'leader' ? s : false;
      },
      'a leads again',
      15_000,
      100,
    );
    assert.ok(leadsAgain.epoch >= led.status.epoch);
    assert.equal(leadsAgain.losses, 1);
    await Promise.all([a.stop(), b.stop()]);
  });

  test('kill -9 of the etcd leader of three: leases renewed in time are not lost, names and calls work after the re-election', async () => {
    const etcd = await cleanup.etcd({ members: 3 });
    const cluster = `k${Date.now()}`;
    const a = startNode(etcd, cluster, 'a', { memberTtlMs: 3000, leaseTtlMs: 3000 });
    await a.next((m) => m.op === 'ready', 'a ready');
    const b = startNode(etcd, cluster, 'b', { memberTtlMs: 3000 });
    await b.next((m) => m.op === 'ready', 'b ready');
    const led = await a.next((m) => m.op === 'lease' && m.status.role === 'leader', 'a leads');
    const leader = await etcd.leader();
    assert.ok(leader !== undefined, 'etcd has a leader');
    await etcd.kill(leader);
    const newLeader = await waitFor(async () => etcd.leader(), 'a new etcd leader', 10_000, 100);
    assert.notEqual(newLeader.name, leader.name);
    // Two renew intervals after the re-election: the lease was renewed through it.
    await new Promise((r) => setTimeout(r, 2500));
    const st = (await ask(a, { op: 'lease-status' })).status;
    assert.deepEqual([st.role, st.epoch, st.losses], ['leader', led.status.epoch, 0], JSON.stringify(st));
    assert.ok(!a.lines.some((x) => x.op === 'lease' && x.status.role === 'follower'), 'never stepped down');
    assert.ok(!b.lines.some((x) => x.op === 'node' && x.type === 'nodedown'), 'no node was declared down');
    assert.equal((await ask(a, { op: 'fenced', epoch: st.epoch })).ok, true);
    assert.equal((await ask(b, { op: 'register', name: 'after-reelection' })).ok, true);
    const r = await ask(b, { op: 'call', name: 'echo-a', req: 'x' });
    assert.equal(r.v.node, 'a');
    await Promise.all([a.stop(), b.stop()]);
  });
});
