/**
 * `trellis status --cluster`: the status records of a live node (in this process) on a real etcd,
 * printed as a table and as JSON; the errors a user sees without endpoints or without etcd.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawn } from '@trellis/core';
import { ClusterNode, freePort, type LocalEtcd } from '../src/index.js';
import { main } from '../src/status-cli.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
before(async () => {
  etcd = await cleanup.etcd();
});
after(() => cleanup.run());

async function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    env,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

describe('trellis status --cluster', () => {
  test('prints every node with its incarnation, global names and leases', async () => {
    const node = await ClusterNode.start({
      etcd: etcd.endpoints,
      name: 'statuscli',
      node: 'solo',
      probeIntervalMs: 0,
      insecure: true,
    });
    cleanup.add(() => node.stop());
    const pid = spawn(async (ctx) => {
      await ctx.receive();
    });
    await node.registerGlobal('billing', pid);
    const store = await node.leaseStore();
    assert.ok((await store.grant('jobs', { id: 'solo-holder' }, 5000)).granted);
    // The record lists the names; it is published shortly after they change.
    const r = await waitFor(
      async () => {
        const x = await run(['--cluster', 'statuscli'], { TRELLIS_ETCD: etcd.endpoints.join(',') });
        return /billing/.test(x.out) && /\s1\s+\d+ s ago/.test(x.out) ? x : false;
      },
      'the status record with the name',
      5000,
      50,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`solo\\s+${node.incarnation}\\s`));
    assert.match(r.out, /billing\s+solo\s+<0\.\d+>/);
    assert.match(r.out, /jobs\s+solo-holder\s+\d+/);
    const j = await run(['--cluster', 'statuscli', '--etcd', etcd.endpoints.join(','), '--json']);
    const view = JSON.parse(j.out);
    assert.equal(view.nodes[0].status.pid, process.pid);
    assert.deepEqual(view.nodes[0].status.names, ['billing']);
    await node.stop();
    const gone = await run(['--cluster', 'statuscli', '--etcd', etcd.endpoints[0]!]);
    assert.match(gone.out, /0 node\(s\)/, 'an orderly stop removes the member at once');
  });

  test('no endpoints: exit 2 with the fix; etcd down: exit 1 naming the endpoint', async () => {
    const none = await run(['--cluster'], {});
    assert.equal(none.code, 2);
    assert.match(none.err, /TRELLIS_ETCD/);
    const url = `http://127.0.0.1:${await freePort()}`;
    const down = await run(['--cluster', 'x', '--etcd', url]);
    assert.equal(down.code, 1);
    assert.ok(down.err.includes(url), down.err);
  });
});
