/**
 * A ToolPool with `placement` on real agents (issue 15): two `trellis agent` processes on a real
 * etcd, a client node in this process (its `cluster` placement provider registered by the node),
 * real Python. Calls spread over both agents; kill -9 of one agent: its Python workers are gone, the
 * calls in flight there fail with ERR_NODE_DOWN (node and incarnation in the details) and the
 * non-idempotent tool ran once per call, never twice (a file it appends to counts its runs); the
 * pool serves on from the other agent with its size halved; the agent comes back as a new
 * incarnation and the pool grows back to full size.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isProcessAlive } from '@trellis/core';
import { ToolPool } from '@trellis/grpc-bridge';
import type { LocalEtcd } from '../src/index.js';
import {
  AGENT_TOOLS,
  insecureAgentArgs,
  startAgentProcess,
  startClientNode,
  tempHome,
  waitGone,
} from './agent-helpers.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let home: string;
let dir: string;
before(async () => {
  etcd = await cleanup.etcd();
  home = tempHome(cleanup);
  dir = mkdtempSync(join(tmpdir(), 'trellis-agent-pool-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
});
after(() => cleanup.run());

function lines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('a pool placed on agents', () => {
  test('kill -9 of an agent: ERR_NODE_DOWN in flight, no second run, the pool serves on and grows back', async () => {
    const cluster = `apool${process.pid}`;
    const args = (node: string) => insecureAgentArgs(etcd.endpoints, cluster, node);
    const a1 = await startAgentProcess(cleanup, args('agent-1'), { TRELLIS_HOME: home });
    await startAgentProcess(cleanup, args('agent-2'), { TRELLIS_HOME: home });
    const client = await startClientNode(cleanup, etcd.endpoints, cluster);
    await waitFor(
      () => client.nodes().filter((m) => m.roles?.includes('agent')).length === 2,
      'both agents in the client view',
    );
    const pool = await ToolPool.start({
      tools: AGENT_TOOLS,
      name: 'remote',
      placement: { nodes: 'cluster', perNode: 2 },
      env: { AGENT_TEST_EXTRA: 'pool-env' },
    });
    cleanup.add(() => pool.stop());
    const byNode = () => {
      const out: Record<string, number[]> = {};
      for (const w of pool.stats().workers) {
        if (w.state !== 'ready') continue;
        const k = w.node ?? 'local';
        out[k] = [...(out[k] ?? []), w.pid as number];
      }
      return out;
    };
    await waitFor(() => pool.stats().readyWorkers === 4, 'four remote workers ready');
    const placed = byNode();
    assert.deepEqual(Object.keys(placed).sort(), ['agent-1', 'agent-2']);
    assert.equal(placed['agent-1']?.length, 2);

    // Calls reach both agents (least-loaded), straight to their workers, with the pool's env.
    const who = await Promise.all(
      Array.from({ length: 8 }, () => pool.call<{ pid: number; extra: string }>('whoami', {})),
    );
    assert.ok(who.every((w) => w.extra === 'pool-env'));
    const where = (pid: number) => Object.keys(placed).find((n) => placed[n]!.includes(pid));
    assert.ok(
      who.every((w) => where(w.pid) !== undefined),
      'every call ran on a placed worker',
    );

    // Four non-idempotent calls in flight, one per worker; then kill -9 of agent-1.
    const counter = join(dir, 'counter');
    const calls = Array.from({ length: 4 }, () =>
      pool.call<number>('count', { path: counter, ms: 4000 }).then(
        (n) => ({ ok: true as const, n }),
        (e: Error & { code?: string; details?: Record<string, unknown> }) => ({ ok: false as const, e }),
      ),
    );
    await waitFor(() => lines(counter).length === 4, 'the four calls running');
    const onA1 = placed['agent-1']!;
    const ranOnA1 = lines(counter).filter((l) => onA1.includes(Number(l))).length;
    assert.equal(ranOnA1, 2, 'two of the calls run on agent-1');
    const inc1 = client.membership.get('agent-1')!.incarnation;
    a1.child.kill9();
    await waitGone(onA1, "agent-1's Python workers to be gone", 5000);
    const results = await Promise.all(calls);
    const failed = results.filter((r) => !r.ok);
    assert.equal(failed.length, 2, JSON.stringify(results));
    for (const f of failed) {
      if (f.ok) continue;
      assert.equal(f.e.code, 'ERR_NODE_DOWN', f.e.message);
      assert.equal(f.e.details?.node, 'agent-1');
      assert.equal(f.e.details?.incarnation, inc1);
    }
    // Never run twice: four runs in all, the two lost ones not retried on agent-2.
    assert.equal(lines(counter).length, 4);
    await waitFor(() => pool.stats().size === 2, 'the pool to shrink to agent-2');
    assert.deepEqual(Object.keys(byNode()), ['agent-2']);
    assert.ok(onA1.every((p) => !isProcessAlive(p)));
    const still = await pool.call<{ pid: number }>('whoami', {});
    assert.ok(byNode()['agent-2']!.includes(still.pid));

    // agent-1 comes back: a new incarnation, and the pool grows back to four.
    await startAgentProcess(cleanup, args('agent-1'), { TRELLIS_HOME: home });
    await waitFor(() => pool.stats().readyWorkers === 4, 'the pool back at four', 30_000);
    const back = pool.stats().workers.filter((w) => w.node === 'agent-1');
    assert.equal(back.length, 2);
    assert.ok(back.every((w) => w.incarnation !== inc1));
    await pool.stop();
  });
});
