/**
 * The `cluster` PlacementProvider and RemoteWorker (issue 15), against real agents as OS processes
 * on a real etcd, with real Python: the live agent nodes as membership changes, a launch and calls
 * straight to the worker, exits from Watch, from nodedown (kill -9 of the agent) and from
 * unreachable (SIGSTOP of the agent), and a client killed with kill -9 whose workers the agent kills.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isProcessAlive } from '@trellis/core';
import type { PlacementNode } from '@trellis/grpc-bridge';
import { ClusterPlacement } from '../src/agent/cluster-placement.js';
import type { RemoteWorker } from '../src/agent/remote-worker.js';
import type { LocalEtcd } from '../src/index.js';
import {
  AGENT_TOOLS,
  execute,
  insecureAgentArgs,
  remoteLaunch,
  startAgentProcess,
  startClientNode,
  tempHome,
  waitGone,
} from './agent-helpers.js';
import { Cleanup, waitFor } from './helpers.js';

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let home: string;
before(async () => {
  etcd = await cleanup.etcd();
  home = tempHome(cleanup);
});
after(() => cleanup.run());

let seq = 0;
const agentArgs = (cluster: string, node: string, more: string[] = []) =>
  insecureAgentArgs(etcd.endpoints, cluster, node, more);

const clientNode = (cluster: string) => startClientNode(cleanup, etcd.endpoints, cluster);

describe('cluster placement', () => {
  test('watchNodes: agents that are up and reachable, filtered by name; launch; calls; exits', async () => {
    const cluster = `place${process.pid}x${++seq}`;
    const client = await clientNode(cluster);
    const provider = new ClusterPlacement(client);
    cleanup.add(() => provider.close());
    const seen: string[][] = [];
    const stop = provider.watchNodes('cluster', (live) => seen.push(live.map((l) => l.node)));
    const named: string[][] = [];
    const stopNamed = provider.watchNodes(['agent-2'], (live) => named.push(live.map((l) => l.node)));
    assert.deepEqual(seen, [[]], 'called at once; the client itself is no agent');
    const a1 = await startAgentProcess(cleanup, agentArgs(cluster, 'agent-1'), { TRELLIS_HOME: home });
    await waitFor(() => seen.at(-1)?.join() === 'agent-1', 'agent-1 in the live nodes');
    const a2 = await startAgentProcess(cleanup, agentArgs(cluster, 'agent-2'), { TRELLIS_HOME: home });
    await waitFor(() => seen.at(-1)?.join() === 'agent-1,agent-2', 'both agents live');
    assert.deepEqual(named.at(-1), ['agent-2']);

    const at = (node: string): PlacementNode => ({
      node,
      incarnation: client.membership.get(node)!.incarnation,
    });
    const w1 = (await provider.launch(at('agent-1'), remoteLaunch({ slot: 0 }))) as RemoteWorker;
    const w2 = (await provider.launch(at('agent-2'), remoteLaunch({ slot: 1 }))) as RemoteWorker;
    assert.deepEqual(w1.node, at('agent-1'));
    assert.equal(w1.lane, undefined);
    assert.deepEqual(
      w1.tools.map((t) => [t.name, t.idempotent]),
      [
        ['ask_host', false],
        ['count', false],
        ['escape', false],
        ['whoami', true],
      ],
    );
    assert.deepEqual(await execute(w1.client, 'whoami', {}), { pid: w1.pid, extra: 'from-the-pool' });
    assert.deepEqual(await execute(w2.client, 'whoami', {}), { pid: w2.pid, extra: 'from-the-pool' });

    // stop through the agent: the exit is the worker's own.
    const stopped = await w1.stop(2000);
    assert.equal(stopped.pid, w1.pid);
    assert.equal(stopped.node, undefined);
    assert.equal(w1.killedByHost, true);
    assert.equal(isProcessAlive(w1.pid), false);
    w1.close();

    // kill -9 of agent-2: its worker dies with it; the handle ends with node down, at once for
    // a watcher of the pool (it is told by the membership, not by a failed call).
    const exited = new Promise((r) => w2.onExit(r));
    a2.child.kill9();
    await waitGone([w2.pid], "agent-2's worker to die with it", 5000);
    const exit = (await exited) as { node?: unknown };
    assert.deepEqual(exit.node, { ...at2(w2), why: 'down' });
    await waitFor(() => seen.at(-1)?.join() === 'agent-1', 'agent-2 gone from the live nodes');
    assert.deepEqual(named.at(-1), []);
    w2.close();
    // A launch on a node that is down is refused as such.
    await assert.rejects(provider.launch(w2.node, remoteLaunch()), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_NODE_DOWN');
      return true;
    });
    stop();
    stopNamed();
    void a1;
  });

  test('an unreachable agent: the handle exits with why "unreachable", then the agent kills the worker', async () => {
    const cluster = `place${process.pid}x${++seq}`;
    const client = await clientNode(cluster);
    const provider = new ClusterPlacement(client);
    cleanup.add(() => provider.close());
    // A TTL long enough that the paused agent keeps its lease: only the unreachable path acts (5 s
    // was not always enough on a loaded box: the lease lapsed first and the exit said "down").
    const a = await startAgentProcess(
      cleanup,
      agentArgs(cluster, 'agent-1', ['--member-ttl-ms', '20000', '--owner-grace-ms', '5000']),
      { TRELLIS_HOME: home },
    );
    const live = await new Promise<PlacementNode>((resolve) => {
      provider.watchNodes('cluster', (l) => l[0] && resolve(l[0]));
    });
    const w = (await provider.launch(live, remoteLaunch())) as RemoteWorker;
    const exited = new Promise<{ node?: unknown }>((r) => w.onExit(r));
    process.kill(a.ready.pid, 'SIGSTOP');
    let exit: { node?: unknown };
    try {
      exit = await exited;
    } finally {
      process.kill(a.ready.pid, 'SIGCONT');
    }
    assert.deepEqual(exit.node, { ...live, why: 'unreachable' });
    // Back, the agent takes the best-effort Kill (or its grace rule acts): the worker goes.
    await waitGone([w.pid], 'the unreachable worker to be killed after the agent resumed', 10_000);
    w.close();
  });

  test("kill -9 of a client: the agent kills the client's workers", async () => {
    const cluster = `place${process.pid}x${++seq}`;
    await startAgentProcess(cleanup, agentArgs(cluster, 'agent-1'), { TRELLIS_HOME: home });
    const owner = cleanup.child('agent-owner.js', [
      JSON.stringify({
        endpoints: etcd.endpoints,
        cluster,
        node: 'owner',
        agent: 'agent-1',
        tools: AGENT_TOOLS,
        n: 2,
      }),
    ]);
    const { pids } = await owner.next<{ pids: number[] }>((m) => m.op === 'launched', 'the launch');
    assert.ok(pids.every((p) => isProcessAlive(p)));
    const t0 = Date.now();
    owner.kill9();
    await owner.exited;
    // Its Watch streams break at once and its member lease lapses after 1 s: either rule kills.
    await waitGone(pids, "the dead client's workers to be killed", 5000);
    assert.ok(Date.now() - t0 < 5000);
  });
});

function at2(w: RemoteWorker): { node: string; incarnation: number } {
  return { node: w.node.node, incarnation: w.node.incarnation };
}
