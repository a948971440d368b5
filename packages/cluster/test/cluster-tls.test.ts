/**
 * mTLS between nodes (issue 15): `trellis certs init|issue` through the real `trellis` bin, a node
 * on a real etcd serving with the issued certificate, and real TLS clients on 127.0.0.1 that present
 * no certificate, another CA's, an expired one (each ERR_TLS_REFUSED with its reason, each logged on
 * the server as a refusal), and the issued one (accepted). Without tls a node must say insecure: true.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMemoryLogger, getLogger, setLogger } from '@trellis/core';
import { ClusterNode, type LocalEtcd, pingNode, readNodeTls } from '../src/index.js';
import { issueExpiredCert } from './agent-helpers.js';
import { Cleanup } from './helpers.js';

// dist/test/ -> packages/cluster -> packages -> the repository; the bin is core's.
const TRELLIS_BIN = fileURLToPath(new URL('../../../core/bin/trellis.js', import.meta.url));

const log = createMemoryLogger();
const logged = log.records;

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let dir: string;
const previous = getLogger();
before(async () => {
  etcd = await cleanup.etcd();
  dir = mkdtempSync(join(tmpdir(), 'trellis-certs-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  setLogger(log);
  cleanup.add(() => setLogger(previous));
});
after(() => cleanup.run());

function trellis(args: string[]): string {
  return execFileSync(process.execPath, [TRELLIS_BIN, ...args], { encoding: 'utf8', cwd: dir });
}

describe('mTLS between nodes', () => {
  test('trellis certs init/issue: a P-256 CA, node certificates with DNS SANs only, keys 0600', () => {
    const main = join(dir, 'main');
    const other = join(dir, 'other');
    assert.match(trellis(['certs', 'init', '--dir', main]), /cluster CA written/);
    for (const n of ['a', 'client']) assert.match(trellis(['certs', 'issue', n, '--dir', main]), /written/);
    trellis(['certs', 'issue', 'b', '--dir', main, '--dns', 'b.example.internal']);
    trellis(['certs', 'init', '--dir', other]);
    trellis(['certs', 'issue', 'client', '--dir', other]);
    // A second init must not silently replace the CA every certificate hangs on.
    assert.throws(() =>
      execFileSync(process.execPath, [TRELLIS_BIN, 'certs', 'init', '--dir', main], { stdio: 'pipe' }),
    );
    for (const f of ['ca.key', 'a.key', 'b.key', 'client.key'])
      assert.equal(statSync(join(main, f)).mode & 0o777, 0o600, f);
    const ca = new X509Certificate(readFileSync(join(main, 'ca.pem')));
    assert.equal(ca.ca, true);
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const b = new X509Certificate(readFileSync(join(main, 'b.pem')));
    assert.equal(b.subjectAltName, 'DNS:trellis-node, DNS:b, DNS:b.example.internal');
    assert.ok(b.checkIssued(ca) && b.verify(ca.publicKey));
    assert.equal(b.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    // An expired certificate from the right CA, for the refusal below.
    issueExpiredCert(main);
    assert.ok(Date.parse(new X509Certificate(readFileSync(join(main, 'expired.pem'))).validTo) < Date.now());
  });

  test('a node refuses clients without a CA-signed, valid certificate with ERR_TLS_REFUSED; the issued one passes', async () => {
    const main = join(dir, 'main');
    const node = await ClusterNode.start({
      etcd: etcd.endpoints,
      name: `tls${Date.now()}`,
      node: 'a',
      probeIntervalMs: 0,
      tls: readNodeTls('a', { dir: main }),
    });
    cleanup.add(() => node.stop());
    const ca = readFileSync(join(main, 'ca.pem'));
    const own = readNodeTls('client', { dir: main });
    const foreign = readNodeTls('client', { dir: join(dir, 'other') });
    const cases: [string, { ca: Buffer; cert?: Buffer; key?: Buffer }, RegExp, RegExp][] = [
      ['no certificate', { ca }, /no client certificate|certificate required/, /presented no certificate/],
      [
        'another CA',
        { ca, cert: foreign.cert, key: foreign.key },
        /not signed by the cluster CA/,
        /UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
      ],
      [
        'expired',
        { ca, cert: readFileSync(join(main, 'expired.pem')), key: own.key },
        /expired/,
        /CERT_HAS_EXPIRED/,
      ],
    ];
    for (const [what, tls, reason, serverReason] of cases) {
      const before = logged.length;
      await assert.rejects(
        pingNode(node.address, { tls, node: 'a' }),
        (e: Error & { code?: string; details?: { reason?: string } }) => {
          assert.equal(e.code, 'ERR_TLS_REFUSED', `${what}: ${e.message}`);
          assert.match(e.details?.reason ?? '', reason, what);
          return true;
        },
      );
      // The server logged it as a TLS refusal, with the verification error.
      const refusals = () => logged.slice(before).filter((l) => l.fields.event === 'tls_refused');
      const deadline = Date.now() + 5000;
      while (refusals().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(refusals().length >= 1, `${what}: no tls_refused record`);
      assert.ok(refusals().every((l) => l.level === 'warn' && l.fields.node === 'a'));
      assert.match(String(refusals()[0]!.fields.reason), serverReason, what);
    }
    const rep = await pingNode(node.address, { tls: own, node: 'a' });
    assert.deepEqual([rep.node, rep.inc], ['a', node.incarnation]);
    // A dead port is not a TLS refusal: it stays "unreachable", as a dead host must.
    const dead = node.address.replace(/:\d+$/, ':1');
    await assert.rejects(pingNode(dead, { tls: own, timeoutMs: 1000 }), { code: 'ERR_NODE_UNREACHABLE' });
  });

  test('without tls a node must say insecure: true, and then warns', async () => {
    await assert.rejects(
      ClusterNode.start({ etcd: etcd.endpoints, name: 'insec', node: 'x', probeIntervalMs: 0 }),
      (e: Error & { code?: string }) =>
        e.code === 'ERR_INVALID_CLUSTER_OPTIONS' && /insecure: true/.test(e.message),
    );
    const before = logged.length;
    const n = await ClusterNode.start({
      etcd: etcd.endpoints,
      name: 'insec',
      node: 'x',
      probeIntervalMs: 0,
      insecure: true,
    });
    cleanup.add(() => n.stop());
    const warned = logged.slice(before).filter((l) => l.fields.event === 'cluster_insecure');
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.level, 'warn');
    assert.match(warned[0]!.msg ?? '', /plain TCP/);
    assert.equal((await pingNode(n.address, { insecure: true })).node, 'x');
  });
});
