/**
 * What the crash reports and getStatus of the cluster's behaviours show (their formatStatus, OTP's
 * format_status/1): the cluster node's server, the agent's actor and a lease keeper on etcd each hold
 * a path to the etcd client, whose options keep etcd's mTLS client key and CA, and a logger writes a
 * Buffer out as its bytes. Each behaviour is made to crash through a real path (a cast it does not
 * take: ERR_NO_HANDLER) on a real etcd that serves mTLS only; its gen_server_terminate report must
 * name it (node, incarnation, lease, role, epoch) and hold neither key as PEM text nor as bytes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cast,
  start as coreStart,
  createMemoryLogger,
  getLogger,
  getStatus,
  type Pid,
  setLogger,
  whereis,
} from '@trellis/core';
import { leaseKeeperChild, leaseStatus } from '@trellis/health';
import {
  EtcdLeaseStore,
  type EtcdTlsOptions,
  initClusterCa,
  issueNodeCert,
  type LocalEtcd,
  type NodeTlsOptions,
  readNodeTls,
  start,
  startAgent,
} from '../src/index.js';
import { Cleanup, waitFor } from './helpers.js';

/** Every record Trellis logs (setLogger), kept in memory. */
const log = createMemoryLogger();

/** `value` as JSON, as a logger writes it (Buffers as byte arrays), cycles cut. */
function json(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[seen]';
      seen.add(v);
    }
    return typeof v === 'bigint' ? String(v) : v;
  });
}

/** Neither the PEM text of `pem` nor its first bytes written out as numbers is in `text`. */
function assertAbsent(text: string, pem: Buffer, what: string): void {
  const line = pem
    .toString('utf8')
    .split('\n')
    .find((l) => l.length >= 40 && !l.startsWith('-----'));
  assert.ok(line !== undefined);
  assert.ok(!text.includes(line), `${what} (PEM text) is in the log`);
  assert.ok(!text.includes(Array.from(pem.subarray(0, 32)).join(',')), `${what} (as bytes) is in the log`);
}

function terminateReport(name: string): Record<string, unknown> | undefined {
  return log.records.find((r) => r.fields.report === 'gen_server_terminate' && r.fields.name === name)
    ?.fields;
}

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let etcdTls: EtcdTlsOptions;
let nodeTls: NodeTlsOptions;
const previous = getLogger();

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-status-certs-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  await initClusterCa({ dir });
  await issueNodeCert('etcd', { dir, dnsNames: ['localhost'] });
  await issueNodeCert('client', { dir });
  await issueNodeCert('a', { dir });
  etcd = await cleanup.etcd({
    tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'etcd.pem'), key: join(dir, 'etcd.key') },
  });
  etcdTls = readNodeTls('client', { dir });
  nodeTls = readNodeTls('a', { dir });
  setLogger(log);
  cleanup.add(() => setLogger(previous));
});
after(() => cleanup.run());

function assertNoKeys(text: string): void {
  assertAbsent(text, etcdTls.key!, "etcd's client key");
  assertAbsent(text, etcdTls.ca, "etcd's CA");
  assertAbsent(text, nodeTls.key, "the node's key");
}

describe('crash reports of the cluster behaviours hold no key', () => {
  test('the cluster node: its report shows the node, incarnation and address, not the etcd client', async () => {
    const app = await start(
      { children: [] },
      {
        handleSignals: false,
        exitProcess: false,
        cluster: {
          etcd: etcd.endpoints,
          etcdTls,
          tls: nodeTls,
          name: 'st1',
          node: 'a',
          probeIntervalMs: 0,
        },
      },
    );
    try {
      const pid = whereis('cluster') as Pid;
      const status = await getStatus(pid);
      assertNoKeys(json(status));
      const st = status.state as Record<string, unknown>;
      assert.deepEqual([st.cluster, st.node, st.state, st.tls, st.via], ['st1', 'a', 'up', true, 'cluster']);
      assert.ok((st.incarnation as number) > 0);

      cast(pid, { op: 'no such cast' });
      const report = await waitFor(() => terminateReport('cluster'), 'the terminate report of the node');
      assertNoKeys(json(log.records));
      const shown = report.state as Record<string, unknown>;
      assert.deepEqual([shown.cluster, shown.node, shown.incarnation], ['st1', 'a', st.incarnation]);
      assert.match(String(shown.address), /^127\.0\.0\.1:\d+$/);
      assert.match(String(report.reason), /ERR_NO_HANDLER|handleCast/);
      // Restarted by its supervisor as a new incarnation before the app stops.
      await waitFor(() => whereis('cluster') !== undefined && whereis('cluster') !== pid, 'the restart');
    } finally {
      await app.stop();
    }
  });

  test('the agent: its report shows the node and its hosted workers, not the etcd client', async () => {
    const agent = await startAgent({
      etcd: etcd.endpoints,
      etcdTls,
      tls: nodeTls,
      name: 'st2',
      node: 'agent-a',
      registry: false,
      probeIntervalMs: 0,
    });
    try {
      const pid = whereis('trellis-agent') as Pid;
      assertNoKeys(json(await getStatus(pid)));
      cast(pid, { op: 'no such cast' });
      const report = await waitFor(
        () => terminateReport('trellis-agent'),
        'the terminate report of the agent',
      );
      assertNoKeys(json(log.records));
      const shown = report.state as Record<string, unknown>;
      assert.deepEqual([shown.cluster, shown.node, shown.hosted], ['st2', 'agent-a', []]);
      assert.ok((shown.incarnation as number) > 0);
    } finally {
      await agent.stop();
    }
  });

  test('a lease keeper on etcd: its report shows the lease, role and epoch, not the store', async () => {
    const store = await EtcdLeaseStore.open({
      etcd: { endpoints: etcd.endpoints, tls: etcdTls },
      prefix: '/st3/',
    });
    cleanup.add(() => store.close());
    const app = await coreStart(
      { children: [leaseKeeperChild({ lease: 'jobs', ttlMs: 3000, store })] },
      { handleSignals: false, exitProcess: false },
    );
    try {
      const lease = await leaseStatus('lease:jobs');
      assert.equal(lease.role, 'leader');
      const pid = whereis('lease:jobs') as Pid;
      assertNoKeys(json(await getStatus(pid)));
      cast(pid, { op: 'no such cast' });
      const report = await waitFor(() => terminateReport('lease:jobs'), 'the terminate report of the keeper');
      assertNoKeys(json(log.records));
      const shown = report.state as Record<string, unknown>;
      assert.deepEqual(
        [shown.lease, shown.role, shown.epoch, shown.store],
        ['jobs', 'leader', lease.epoch, 'EtcdLeaseStore'],
      );
    } finally {
      await app.stop();
    }
  });
});
