/**
 * What a single-host pool offers, on workers of other nodes (issue 15): sessions keep their
 * affinity across nodes, `ctx.call_host_tool` from a remote worker reaches the host tool of the
 * node that owns the pool, and a big payload to a remote worker goes through at the configured
 * `maxMessageBytes` and is refused just over it (ERR_PAYLOAD_TOO_LARGE), both ways. Two agent
 * "machines" in network namespaces with mTLS, the client in a third, real etcd, real Python.
 * Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Child } from './helpers.js';
import { PoolLab, poolLabAvailable } from './pool-lab.js';

const skip = poolLabAvailable();
const AGENTS = ['b1', 'b2'];
const PER_NODE = 2;
const MAX = 1024 * 1024;

let lab: PoolLab | undefined;
let client: Child | undefined;
const ask = (cmd: Record<string, unknown>, timeoutMs?: number) => lab!.ask(client!, cmd, timeoutMs);
const call = (tool: string, args: unknown, opts?: Record<string, unknown>) =>
  ask({ op: 'pool-call', tool, args, opts });

describe('sessions, host tools and big payloads on remote workers', { skip }, () => {
  before(async () => {
    lab = await PoolLab.start({ agents: AGENTS });
    await Promise.all(AGENTS.map((a) => lab!.agentReady(a)));
    client = await lab.startClient();
    const r = await ask(
      {
        op: 'pool-start',
        cluster: lab.clientCluster(),
        pool: { perNode: PER_NODE, maxMessageBytes: MAX, affinity: 'strict-queue' },
      },
      60_000,
    );
    assert.equal(r.ok, true, JSON.stringify(r));
    const w = await ask({ op: 'pool-wait', size: PER_NODE * AGENTS.length }, 40_000);
    assert.equal(w.ok, true, JSON.stringify(w));
  });
  after(async () => {
    const orphans = (await lab?.stop()) ?? [];
    assert.deepEqual(orphans, [], 'no process was left in any namespace of the lab');
  });

  test('sessions: each session stays on its worker, on whichever node; sessions land on both nodes', async () => {
    const homes = new Map<string, string>();
    for (let s = 0; s < 8; s++) {
      const sessionId = `s${s}`;
      const r = await call('remember', { key: 'k', value: s }, { sessionId });
      assert.equal(r.ok, true, JSON.stringify(r));
      homes.set(sessionId, `${r.value.node}/${r.value.pid}`);
    }
    for (let round = 0; round < 3; round++)
      for (const [sessionId, home] of homes) {
        const r = await call('recall', { key: 'k' }, { sessionId });
        assert.equal(r.ok, true, JSON.stringify(r));
        assert.equal(`${r.value.node}/${r.value.pid}`, home, `${sessionId} stays on ${home}`);
        assert.equal(r.value.value, Number(sessionId.slice(1)), `${sessionId} sees its own state`);
      }
    const nodes = new Set([...homes.values()].map((h) => h.split('/')[0]));
    assert.deepEqual([...nodes].sort(), AGENTS, 'sessions were placed on both nodes');
  });

  test("host tools: a remote worker's ctx.call_host_tool reaches the pool's own node", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await call('ask_host', { tool: 'whoami' });
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.value.result.node, 'client', 'the host tool ran on the node that owns the pool');
      assert.ok(AGENTS.includes(r.value.node), `called from the remote worker on ${r.value.node}`);
      seen.add(r.value.node);
    }
    assert.ok(seen.size >= 1);
  });

  test('big payloads: at maxMessageBytes they go through, just over it ERR_PAYLOAD_TOO_LARGE (both ways)', async () => {
    // The request envelope (tool name, call id, framing) counts against the limit: leave it 256 bytes.
    const atLimit = MAX - 256;
    const ok = await ask({ op: 'pool-call-bytes', tool: 'size', n: atLimit }, 60_000);
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal(ok.value, atLimit);
    const over = await ask({ op: 'pool-call-bytes', tool: 'size', n: MAX + 1 }, 60_000);
    assert.equal(over.code, 'ERR_PAYLOAD_TOO_LARGE', JSON.stringify(over));
    // Results: the remote worker refuses to send one over the limit.
    const big = await call('make', { n: atLimit });
    assert.equal(big.ok, true, JSON.stringify(big).slice(0, 300));
    assert.equal(big.value.bytes, atLimit);
    const tooBig = await call('make', { n: MAX + 1 });
    assert.equal(tooBig.code, 'ERR_PAYLOAD_TOO_LARGE', JSON.stringify(tooBig).slice(0, 300));
    // And the pool still serves.
    assert.equal((await call('where', {})).ok, true);
  });
});
