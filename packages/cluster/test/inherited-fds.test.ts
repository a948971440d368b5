/**
 * The cluster's spawn paths do not hand out a Trellis LMDB file (the grpc-bridge test
 * inherited-fds.test.ts has the rest and says why they could): etcd started by LocalEtcd from a
 * process whose registry, health and lease files are open, and a Python worker an agent process
 * hosts, spawned after the agent opened its own registry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HealthStore, LmdbLeaseStore } from '@trellis/health';
import { Registry } from '@trellis/registry';
import { AgentConnection } from '../src/agent/agent-client.js';
import {
  insecureAgentArgs,
  launchReq,
  startAgentProcess,
  startClientNode,
  tempHome,
} from './agent-helpers.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

/** The Trellis LMDB files (data and lock) in `home` that `pid` holds, as /proc links. */
function lmdbHeldBy(pid: number, home: string): string[] {
  const prefix = `${realpathSync(home)}/`;
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (link.startsWith(prefix) && /\.mdb(-lock)?( \(deleted\))?$/.test(link)) out.push(link);
  }
  return out;
}

test('etcd started after the registry, health and lease files were opened holds none of them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-fds-etcd-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const registry = await Registry.open({ dir, logger: { info() {}, warn() {} } });
  cleanup.add(() => registry.close());
  const health = HealthStore.open(dir);
  cleanup.add(() => health.close());
  const leases = LmdbLeaseStore.open({ dir });
  cleanup.add(() => leases.close());
  assert.ok(lmdbHeldBy(process.pid, dir).length >= 6, 'this process holds the three files and their locks');

  const etcd = await cleanup.etcd();
  const pid = etcd.members[0]?.proc?.pid;
  assert.ok(pid !== undefined, 'etcd runs');
  assert.deepEqual(lmdbHeldBy(pid, dir), []);
});

test("a worker hosted by an agent holds none of the agent's LMDB files", async () => {
  const etcd = cleanup.etcds[0] ?? (await cleanup.etcd());
  const home = tempHome(cleanup);
  const cluster = `fds${process.pid}`;
  const agent = await startAgentProcess(cleanup, insecureAgentArgs(etcd.endpoints, cluster, 'agent-1'), {
    TRELLIS_HOME: home,
  });
  // The agent has its registry open (the worker is tracked in it): what the worker could inherit.
  assert.ok(
    lmdbHeldBy(agent.ready.pid, home).some((l) => l.endsWith('/registry.mdb')),
    `the agent holds its registry: ${lmdbHeldBy(agent.ready.pid, home).join(', ')}`,
  );
  const client = await startClientNode(cleanup, etcd.endpoints, cluster);
  const member = await waitFor(() => client.nodes().find((m) => m.node === 'agent-1'), 'the agent in view');
  const conn = new AgentConnection('agent-1', member.address, undefined);
  cleanup.add(() => conn.close());
  const rep = await conn.launch(launchReq({ node: 'client', incarnation: client.incarnation }), 30_000);
  try {
    assert.deepEqual(lmdbHeldBy(rep.pid, home), []);
  } finally {
    await conn.stop(rep.workerId, 2000);
  }
});
