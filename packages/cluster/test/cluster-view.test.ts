/**
 * The cluster view's data: a node's status record lists the ToolPools running in its process with
 * their sizes and Python workers without any `status` hook (grpc-bridge's list of running pools),
 * and clusterViewSource shows every node, keeping a node that left as `down`. Real etcd, real
 * Python workers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runningPools, ToolPool } from '@trellis/grpc-bridge';
import { ClusterNode, clusterViewSource, type LocalEtcd, readClusterView } from '../src/index.js';
import { Cleanup, waitFor } from './helpers.js';

const PY_TOOLS = fileURLToPath(
  new URL('../../../grpc-bridge/test/fixtures/bridge_tools.py', import.meta.url),
);

const cleanup = new Cleanup();
let etcd: LocalEtcd;
before(async () => {
  etcd = await cleanup.etcd();
});
after(() => cleanup.run());

describe('the cluster view', () => {
  test('status records carry the running pools and their sizes without a status hook; a node that leaves shows down', async () => {
    const cluster = `view${Date.now()}`;
    const base = {
      etcd: etcd.endpoints,
      name: cluster,
      probeIntervalMs: 0,
      insecure: true,
      statusIntervalMs: 200,
    };
    const a = await ClusterNode.start({ ...base, node: 'a' });
    cleanup.add(() => a.stop());
    const b = await ClusterNode.start({ ...base, node: 'b' });
    cleanup.add(() => b.stop());
    assert.deepEqual(a.status().pools, [], 'no pool runs yet');

    const pool = await ToolPool.start({ tools: PY_TOOLS, size: 2, name: 'view-py' });
    cleanup.add(() => pool.stop());
    assert.ok(runningPools().includes(pool), 'a started pool is in the list');
    const mine = a.status().pools?.find((p) => p.name === 'view-py');
    assert.ok(mine, 'the record lists the pool');
    assert.equal(mine.size, 2);
    assert.equal(mine.ready, 2);
    assert.deepEqual(
      mine.workers.map((w) => w.pid).sort(),
      pool
        .stats()
        .workers.map((w) => w.pid)
        .sort(),
    );

    // Published to etcd, and read back by the view source as rows.
    const src = clusterViewSource(a);
    cleanup.add(() => src.close());
    const rows = await waitFor(
      async () => {
        const r = await src.nodes();
        return r.find((x) => x.node === 'a')?.pythonWorkers === 2 ? r : false;
      },
      'a row with two Python workers',
      10_000,
      50,
    );
    assert.deepEqual(
      rows.map((r) => [r.node, r.state, r.incarnation]),
      [
        ['a', 'up', a.incarnation],
        ['b', 'up', b.incarnation],
      ],
    );
    const ra = rows[0]!;
    assert.equal(ra.pid, process.pid);
    assert.deepEqual(
      ra.pools.map((p) => [p.name, p.size, p.ready]),
      [['view-py', 2, 2]],
    );
    // An agent node's record lists the workers it hosts for other nodes' pools: they are its Python
    // workers too. (A record as an agent writes it, under a member key of a lease of the test's.)
    const lease = await a.etcd.leaseGrant(30);
    const put = (key: string, v: unknown) => ({
      request_put: {
        key: Buffer.from(`/${cluster}/${key}`),
        value: Buffer.from(JSON.stringify(v)),
        lease: lease.id,
      },
    });
    const agentRec = { node: 'agent-1', host: 'h', pid: 1, address: '127.0.0.1:1', startedAt: Date.now() };
    await a.etcd.txn(
      [],
      [
        put('members/agent-1', agentRec),
        put('status/agent-1', {
          ...agentRec,
          incarnation: 0,
          state: 'up',
          updatedAt: Date.now(),
          processes: 1,
          names: [],
          children: [],
          runs: [],
          pools: [],
          rssBytes: 0,
          extra: {
            agent: {
              workers: [
                { id: 'w1', pid: 11 },
                { id: 'w2', pid: 12 },
                { id: 'w3', pid: 13 },
              ],
            },
          },
        }),
      ],
      [],
    );
    const agentRow = (await src.nodes()).find((x) => x.node === 'agent-1');
    assert.equal(agentRow?.pythonWorkers, 3, 'hosted workers count');
    await a.etcd.leaseRevoke(lease.id);

    const raw = await readClusterView(a.etcd, cluster);
    assert.equal(raw.nodes.find((n) => n.node === 'a')?.status?.pools?.[0]?.size, 2);

    // The pool stops: it leaves the list and the record.
    await pool.stop();
    assert.ok(!runningPools().includes(pool));
    assert.deepEqual(a.status().pools, []);

    // b leaves (its member key goes): the row stays, marked down; a rejoin would replace it.
    const incB = b.incarnation;
    await b.stop();
    const after = await src.nodes();
    const rb = after.find((x) => x.node === 'b');
    assert.ok(rb, 'b is still shown');
    assert.equal(rb.state, 'down');
    assert.equal(rb.incarnation, incB);
    assert.ok(typeof rb.downSince === 'number');
    const b2 = await ClusterNode.start({ ...base, node: 'b' });
    cleanup.add(() => b2.stop());
    const again = (await src.nodes()).find((x) => x.node === 'b');
    assert.equal(again?.state, 'up');
    assert.ok(again.incarnation > incB, 'a new incarnation');
  });
});
