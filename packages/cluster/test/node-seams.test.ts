/**
 * The seams a service built on a cluster node uses (the agent): another gRPC service served on the
 * node's own server and address, and being told when the node loses its membership, at its own
 * deadline, while etcd is stopped (SIGSTOP of the only member), and not before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  credentials,
  makeGenericClientConstructor,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { hostMonotonicMs } from '@trellis/health';
import { ClusterNode, type LocalEtcd, type MemberLeaseLoss } from '../src/index.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
before(async () => {
  etcd = await cleanup.etcd();
});
after(() => cleanup.run());

const json = {
  requestSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  requestDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')),
  responseSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  responseDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')),
};
const ECHO: ServiceDefinition = {
  Echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    originalName: 'echo',
    ...json,
  },
};
const EchoClient = makeGenericClientConstructor(ECHO, 'Echo');

/** Timers of a loaded 2-core machine fire late by up to this much; the bound is the design's. */
const TOLERANCE_MS = 400;

describe('cluster node seams', () => {
  test('addService serves another service on the node address; removeService takes it off', async () => {
    const node = await ClusterNode.start({
      etcd: etcd.endpoints,
      name: `seams${Date.now()}`,
      node: 'svc',
      probeIntervalMs: 0,
      insecure: true,
    });
    cleanup.add(() => node.stop());
    node.addService(ECHO, {
      echo: (call: any, cb: (e: null, v: unknown) => void) =>
        cb(null, { back: call.request, node: node.node }),
    });
    const client = new EchoClient(node.address, credentials.createInsecure(), {
      'grpc.enable_http_proxy': 0,
    });
    cleanup.add(() => client.close());
    const echo = (req: unknown) =>
      new Promise<any>((resolve, reject) =>
        (client as any).Echo(req, (e: ServiceError | null, v: unknown) => (e ? reject(e) : resolve(v))),
      );
    assert.deepEqual(await echo({ x: 1 }), { back: { x: 1 }, node: 'svc' });
    node.removeService(ECHO);
    await assert.rejects(echo({ x: 2 }), (e: ServiceError) => e.code === 12); // UNIMPLEMENTED
    await node.stop();
  });

  test('onMemberLeaseLost fires at the member deadline when etcd stops answering, once; the node comes back up', async () => {
    const TTL = 1000;
    const node = await ClusterNode.start({
      etcd: etcd.endpoints,
      name: `seams${Date.now()}`,
      node: 'lost',
      memberTtlMs: TTL,
      probeIntervalMs: 0,
      insecure: true,
    });
    cleanup.add(() => node.stop());
    const losses: { why: MemberLeaseLoss; at: number }[] = [];
    node.onMemberLeaseLost((why) => losses.push({ why, at: hostMonotonicMs() }));
    // A healthy node over several TTLs: no loss.
    await new Promise((r) => setTimeout(r, 2 * TTL));
    assert.equal(losses.length, 0, JSON.stringify(losses));
    const m = etcd.members[0]!;
    const stoppedAt = hostMonotonicMs();
    m.proc!.kill('SIGSTOP');
    try {
      await waitFor(() => losses.length > 0, 'the member lease loss', 5000, 20);
      const lost = losses[0]!;
      assert.equal(lost.why, 'deadline');
      // The deadline is at most one TTL after the last answered keep-alive, sent before etcd stopped.
      assert.ok(
        lost.at - stoppedAt <= TTL + TOLERANCE_MS,
        `told ${Math.round(lost.at - stoppedAt)} ms after etcd stopped`,
      );
      assert.equal(node.state, 'disconnected');
    } finally {
      m.proc!.kill('SIGCONT');
    }
    await waitFor(() => node.state === 'up', 'the node up again', 15_000, 50);
    // Told once per loss: a deadline loss is not told again by the rejoin that may follow it.
    assert.ok(
      losses.length <= 1 || losses.slice(1).every((l) => l.why === 'expired'),
      JSON.stringify(losses),
    );
    assert.equal(losses[0]!.why, 'deadline');
    await node.stop();
  });
});
