/**
 * Three Trellis nodes as separate OS processes on a real etcd: membership with incarnations,
 * nodeup/nodedown, global names (ERR_NAME_TAKEN naming the holder, gone with their node), calls
 * between nodes by global name (own API and core's `{ via: 'cluster', name }`), remote monitors and
 * links firing `noconnection` after a kill -9, node-down detection within member TTL + 0.5 s, a
 * restarted node rejoining as a new incarnation, and ERR_CLUSTER_UNAVAILABLE at start.
 */
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hostMonotonicMs } from '@trellis/health';
import { EtcdConnection, freePort, type LocalEtcd, readClusterView } from '../src/index.js';
import { type Child, Cleanup } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
const TTL = 1000;
/** Timers of a loaded 2-core machine fire late by up to this much; the bounds are the design's. */
const TOLERANCE_MS = 400;
let seq = 0;

before(async () => {
  etcd = await cleanup.etcd();
});
after(() => cleanup.run());

function startNode(
  cluster: string,
  node: string,
  endpoints = etcd.endpoints,
  more: Record<string, unknown> = {},
): Child {
  return cleanup.child('cluster-node.js', [
    JSON.stringify({ endpoints, cluster, node, memberTtlMs: TTL, ...more }),
  ]);
}

/** A CA and one certificate for every node (DNS name trellis-node), made with openssl (P-256). */
function makeCerts(): { ca: string; cert: string; key: string; otherCert: string; otherKey: string } {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-cluster-tls-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const sh = (cmd: string) => execSync(cmd, { cwd: dir, stdio: 'ignore' });
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, 'subjectAltName=DNS:trellis-node\nextendedKeyUsage=serverAuth,clientAuth\n');
  sh('openssl ecparam -name prime256v1 -genkey -noout -out ca.key');
  sh('openssl req -x509 -new -key ca.key -subj /CN=trellis-test-ca -days 2 -out ca.pem');
  for (const n of ['node', 'other']) {
    if (n === 'other') {
      // A certificate from another CA: a node that presents it must be refused.
      sh('openssl ecparam -name prime256v1 -genkey -noout -out ca2.key');
      sh('openssl req -x509 -new -key ca2.key -subj /CN=other-ca -days 2 -out ca2.pem');
    }
    sh(`openssl ecparam -name prime256v1 -genkey -noout -out ${n}.key`);
    sh(`openssl req -new -key ${n}.key -subj /CN=trellis-node -out ${n}.csr`);
    const signer = n === 'other' ? '-CA ca2.pem -CAkey ca2.key' : '-CA ca.pem -CAkey ca.key';
    sh(`openssl x509 -req -in ${n}.csr ${signer} -CAcreateserial -days 2 -extfile ext.cnf -out ${n}.pem`);
  }
  return {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'node.pem'),
    key: join(dir, 'node.key'),
    otherCert: join(dir, 'other.pem'),
    otherKey: join(dir, 'other.key'),
  };
}
async function ask(c: Child, cmd: Record<string, unknown>): Promise<any> {
  const id = ++seq;
  const p = c.after((m) => m.id === id, `${String(cmd.op)} answer`, 10_000);
  c.send({ ...cmd, id });
  return p;
}

describe('a cluster of three OS processes', () => {
  test('membership, global names, calls between nodes, noconnection, rejoin as a new incarnation', async () => {
    const cluster = `c${Date.now()}`;
    const a = startNode(cluster, 'a');
    const ra = await a.next((m) => m.op === 'ready', 'a ready');
    const b = startNode(cluster, 'b');
    const rb = await b.next((m) => m.op === 'ready', 'b ready');
    const c = startNode(cluster, 'c');
    const rc = await c.next((m) => m.op === 'ready', 'c ready');
    assert.deepEqual(
      rc.nodes.map((m: any) => m.node),
      ['a', 'b', 'c'],
    );
    assert.ok(ra.self.incarnation < rb.self.incarnation && rb.self.incarnation < rc.self.incarnation);
    await a.next((m) => m.op === 'node' && m.type === 'nodeup' && m.node === 'c', 'a sees c up');

    // The echo servers registered themselves as { via: 'cluster', name: 'echo-<node>' }.
    const r1 = await ask(b, { op: 'call', name: 'echo-a', req: 'hi' });
    assert.deepEqual([r1.v.node, r1.v.pid, r1.v.req], ['a', a.pid, 'hi']);
    const r2 = await ask(c, { op: 'via-call', name: 'echo-a', req: 'via' });
    assert.deepEqual(
      [r2.v.node, r2.v.req],
      ['a', 'via'],
      "core's call({ via: 'cluster', name }) reaches node a",
    );
    const missing = await ask(c, { op: 'call', name: 'nobody', req: 1 });
    assert.equal(missing.error.code, 'ERR_NOPROC');

    // A clash names the holder.
    const reg = await ask(a, { op: 'register', name: 'jobs' });
    assert.equal(reg.ok, true);
    await b.send({ op: 'nodes' });
    const clash = await ask(b, { op: 'register', name: 'jobs' });
    assert.equal(clash.error.code, 'ERR_NAME_TAKEN');
    assert.match(clash.error.message, new RegExp(`${reg.pid.replace(/[<>.]/g, '\\$&')}@a`));

    // b monitors a's echo server and c's linked child links to it; then kill -9 a.
    const where = await ask(b, { op: 'whereis', name: 'echo-a' });
    assert.equal(where.at.node, 'a');
    assert.equal(where.at.incarnation, ra.self.incarnation);
    await ask(b, { op: 'monitor', target: where.at });
    await ask(c, { op: 'link', target: where.at });
    await c.next((m) => m.op === 'linker-start' && m.n === 2, 'linker restarted to link');
    const killedAt = hostMonotonicMs();
    a.kill9();
    const down = await b.after(
      (m) => m.op === 'node' && m.type === 'nodedown' && m.node === 'a',
      'b sees a down',
      10_000,
    );
    assert.equal(down.incarnation, ra.self.incarnation);
    const detect = down.at - killedAt;
    assert.ok(
      detect <= TTL + 500 + TOLERANCE_MS,
      `nodedown ${Math.round(detect)} ms after the kill (bound TTL + 0.5 s = ${TTL + 500})`,
    );
    const mon = await b.next((m) => m.op === 'DOWN', 'remote monitor fired');
    assert.deepEqual(mon.reason, { type: 'error', code: 'ERR_NOCONNECTION' });
    await c.next(
      (m) => m.op === 'linker-start' && m.n === 3,
      'the linked child crashed with noconnection and was restarted',
    );
    assert.equal((await ask(b, { op: 'whereis', name: 'jobs' })).at, null, "a's names went with it");
    assert.equal((await ask(b, { op: 'register', name: 'jobs' })).ok, true, 'the name is free again');
    const gone = await ask(b, { op: 'call', name: 'echo-a', req: 1 });
    assert.equal(gone.error.code, 'ERR_NOPROC');

    // a comes back: a new incarnation, seen as nodeup by the others.
    const a2 = startNode(cluster, 'a');
    const ra2 = await a2.next((m) => m.op === 'ready', 'a rejoined');
    assert.ok(
      ra2.self.incarnation > rc.self.incarnation,
      `incarnation ${ra.self.incarnation} -> ${ra2.self.incarnation}`,
    );
    await b.next(
      (m) =>
        m.op === 'node' && m.type === 'nodeup' && m.node === 'a' && m.incarnation === ra2.self.incarnation,
      'b sees the new a up',
    );
    const r3 = await ask(b, { op: 'call', name: 'echo-a', req: 'again' });
    assert.equal(r3.v.pid, a2.pid);

    // The status records, as `trellis status --cluster` reads them.
    const conn = await EtcdConnection.connect({ endpoints: etcd.endpoints });
    try {
      const view = await readClusterView(conn, cluster);
      assert.deepEqual(
        view.nodes.map((n) => n.node),
        ['a', 'b', 'c'],
      );
      const sa = view.nodes.find((n) => n.node === 'a')!.status!;
      assert.equal(sa.pid, a2.pid);
      assert.equal(sa.incarnation, ra2.self.incarnation);
      assert.ok(view.names.some((n) => n.name === 'echo-b' && n.node === 'b'));
    } finally {
      conn.close();
    }

    // An orderly stop leaves at once (the member lease is revoked).
    const left = b.after((m) => m.op === 'node' && m.type === 'nodedown' && m.node === 'c', 'b sees c leave');
    await c.stop();
    await left;
    await Promise.all([a2.stop(), b.stop()]);
  });

  test('unreachable is not down: a node paused for less than its member TTL is unreachable, then reachable, never down', async () => {
    const cluster = `u${Date.now()}`;
    const a = startNode(cluster, 'a', etcd.endpoints, { memberTtlMs: 3000 });
    await a.next((m) => m.op === 'ready', 'a ready');
    const b = startNode(cluster, 'b', etcd.endpoints, { memberTtlMs: 3000 });
    await b.next((m) => m.op === 'ready', 'b ready');
    await new Promise((r) => setTimeout(r, 700)); // both probed each other at least once
    const unreachable = b.after(
      (m) => m.op === 'node' && m.node === 'a' && m.type !== 'nodeup',
      'b judges a',
      5000,
    );
    a.proc.kill('SIGSTOP');
    try {
      assert.equal((await unreachable).type, 'unreachable');
    } finally {
      a.proc.kill('SIGCONT');
    }
    const back = await b.after((m) => m.op === 'node' && m.node === 'a', 'a reachable again', 5000);
    assert.equal(back.type, 'reachable');
    const n = await ask(b, { op: 'nodes' });
    assert.deepEqual(
      n.nodes.map((m: any) => m.node),
      ['a', 'b'],
    );
    assert.ok(!b.lines.some((m) => m.op === 'node' && m.type === 'nodedown'), 'no nodedown');
    await Promise.all([a.stop(), b.stop()]);
  });

  test('mTLS between nodes: calls pass with the cluster CA; a node with a foreign certificate is refused', async () => {
    const certs = makeCerts();
    const cluster = `t${Date.now()}`;
    const tls = { ca: certs.ca, cert: certs.cert, key: certs.key };
    const a = startNode(cluster, 'a', etcd.endpoints, { tls });
    await a.next((m) => m.op === 'ready', 'a ready');
    const b = startNode(cluster, 'b', etcd.endpoints, { tls });
    await b.next((m) => m.op === 'ready', 'b ready');
    const ok = await ask(b, { op: 'call', name: 'echo-a', req: 'tls' });
    assert.deepEqual([ok.v.node, ok.v.req], ['a', 'tls']);
    const x = startNode(cluster, 'x', etcd.endpoints, {
      tls: { ca: certs.ca, cert: certs.otherCert, key: certs.otherKey },
    });
    await x.next((m) => m.op === 'ready', 'x ready');
    const refused = await ask(x, { op: 'call', name: 'echo-a', req: 'forged' });
    assert.equal(refused.error?.code, 'ERR_TLS_REFUSED', `refused: ${JSON.stringify(refused)}`);
    assert.ok(!a.lines.some((m) => m.v?.req === 'forged'));
    await Promise.all([a.stop(), b.stop(), x.stop()]);
  });

  test('etcd unreachable at start: the start fails with ERR_CLUSTER_UNAVAILABLE naming the endpoints', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const x = startNode(`c${Date.now()}`, 'x', [url]);
    const r = await x.next((m) => m.op === 'start-failed', 'start fails');
    const text = `${r.code} ${r.message} ${r.cause} ${r.causeMessage}`;
    assert.match(text, /ERR_CLUSTER_UNAVAILABLE/);
    assert.ok(text.includes(url), text);
    await x.exited;
  });
});
