/**
 * Hostile input to a cluster node (two nodes in this process, a real etcd): records in etcd that are
 * not ours, garbage and oversized frames on the node-to-node service, a second node under a live
 * node's name, bad names and dead pids for registerGlobal. The node survives each and keeps working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { defineServer, Exit, exit, type Pid, reply, spawn, startServer } from '@trellis/core';
import { ClusterNode, EtcdConnection, type LocalEtcd } from '../src/index.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let conn: EtcdConnection;
before(async () => {
  etcd = await cleanup.etcd();
  conn = await EtcdConnection.connect({ endpoints: etcd.endpoints });
  cleanup.add(() => conn.close());
});
after(() => cleanup.run());

const echo = defineServer<null, []>({
  init: () => null,
  handleCall: (req, _f, s) => reply({ echo: req }, s),
});

async function node(cluster: string, name: string): Promise<ClusterNode> {
  const n = await ClusterNode.start({
    etcd: etcd.endpoints,
    name: cluster,
    node: name,
    memberTtlMs: 1000,
    probeIntervalMs: 0,
    insecure: true,
  });
  cleanup.add(() => n.stop());
  return n;
}

describe('a cluster node under hostile input', () => {
  test('records in etcd that are not ours are skipped, at start and while running', async () => {
    const cluster = `h${Date.now()}`;
    await conn.client.put(`/${cluster}/members/garbage`).value('not json {');
    await conn.client.put(`/${cluster}/names/garbage`).value('{"node": 1}');
    const a = await node(cluster, 'a');
    assert.deepEqual(
      a.nodes().map((m) => m.node),
      ['a'],
    );
    assert.equal(a.whereisGlobal('garbage'), undefined);
    await conn.client.put(`/${cluster}/members/garbage2`).value('\u0000\u0001');
    await conn.client.put(`/${cluster}/names/x`).value('[]');
    await node(cluster, 'b');
    await waitFor(() => a.nodes().length === 2, 'a sees b');
    assert.deepEqual(
      a.nodes().map((m) => m.node),
      ['a', 'b'],
    );
  });

  test('garbage and oversized frames on the node service are refused; the node keeps serving', async () => {
    const cluster = `g${Date.now()}`;
    const a = await node(cluster, 'a');
    const b = await node(cluster, 'b');
    const pid = (await startServer(echo, [])) as Pid;
    await a.registerGlobal('echo', pid);
    await waitFor(() => b.whereisGlobal('echo'), 'b sees the name');
    const Raw = makeGenericClientConstructor(
      {
        Call: {
          path: '/trellis.cluster.v1.Node/Call',
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'Raw',
    );
    const raw = new Raw(a.address, credentials.createInsecure(), { 'grpc.enable_http_proxy': 0 }) as any;
    const send = (buf: Buffer) =>
      new Promise<{ err: any; rep: Buffer | undefined }>((res) =>
        raw.Call(buf, { deadline: Date.now() + 3000 }, (err: any, rep: Buffer) => res({ err, rep })),
      );
    const g = await send(Buffer.from('{{{ not json'));
    assert.ok(g.err !== null, 'garbage refused');
    const wrongShape = await send(
      Buffer.from(JSON.stringify({ inc: a.incarnation, to: { pid: 42 }, req: 1, t: 100 })),
    );
    assert.ok(
      wrongShape.err !== null || JSON.parse(wrongShape.rep!.toString()).e !== undefined,
      'a non-pid target is refused',
    );
    const huge = await send(Buffer.alloc(5 * 1024 * 1024, 0x61));
    assert.ok(huge.err !== null, 'a frame over the 4 MB limit is refused');
    raw.close();
    assert.deepEqual(await b.callGlobal('echo', 'still here', 2000), { echo: 'still here' });
  });

  test("a second node under a live node's name is refused with ERR_CLUSTER_NODE_NAME_TAKEN", async () => {
    const cluster = `n${Date.now()}`;
    await node(cluster, 'a');
    await assert.rejects(
      ClusterNode.start({
        etcd: etcd.endpoints,
        name: cluster,
        node: 'a',
        memberTtlMs: 1000,
        probeIntervalMs: 0,
        insecure: true,
      }),
      (e: Error & { code: string }) => e.code === 'ERR_CLUSTER_NODE_NAME_TAKEN' && e.message.includes('"a"'),
    );
  });

  test('registerGlobal: a bad name, a dead pid, and a name freed by its holder exiting', async () => {
    const cluster = `r${Date.now()}`;
    const a = await node(cluster, 'a');
    const b = await node(cluster, 'b');
    const pid = spawn(async (ctx) => {
      await ctx.receive();
    });
    await assert.rejects(a.registerGlobal('has space', pid), { code: 'ERR_INVALID_CLUSTER_OPTIONS' });
    await assert.rejects(a.registerGlobal('x'.repeat(300), pid), { code: 'ERR_INVALID_CLUSTER_OPTIONS' });
    const dead = spawn(async () => {});
    await waitFor(() => !a.local.procs.has(dead), 'the pid exited');
    await assert.rejects(a.registerGlobal('dead', dead), { code: 'ERR_NOPROC' });
    await a.registerGlobal('job', pid);
    await waitFor(() => b.whereisGlobal('job')?.node === 'a', 'b sees job');
    exit(pid, Exit.shutdown());
    await waitFor(() => b.whereisGlobal('job') === undefined, 'the name went with its holder');
    const other = spawn(async (ctx) => {
      await ctx.receive();
    });
    await b.registerGlobal('job', other);
    assert.equal(a.whereisGlobal('job') === undefined || a.whereisGlobal('job')?.node === 'b', true);
  });
});
