/**
 * A pool with `placement` (issue 15), with real Python workers placed by a test provider on named
 * "nodes" of this machine (test/local-nodes.ts): node groups of perNode workers, the pool's size as
 * nodes come and go (removed, not restarted; a new incarnation grows it back), ERR_NODE_DOWN /
 * ERR_NODE_UNREACHABLE for calls in flight on a lost node with no second run of a non-idempotent
 * tool (a file the tool appends to counts its runs), idempotent calls retried on the other node with
 * none lost, sessions across nodes, per-node stats, recycling, quarantine and the circuit breaker
 * across nodes, and clear errors for bad placement options.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ServerCredentials, type ServiceError, status } from '@grpc/grpc-js';
import { exit, NodeDownError, NodeUnreachableError, start } from '@trellis/core';
import {
  createToolClient,
  registerPlacementProvider,
  ToolPool,
  unregisterPlacementProvider,
} from '../src/index.js';
import { openTestRun, readFlag, rejectsWith, type TestRun, waitFor } from './helpers.js';
import { LocalNodes } from './local-nodes.js';
import { makeTestCerts } from './test-certs.js';

const PLACEMENT_TOOLS = new URL('../../test/fixtures/placement_tools.py', import.meta.url).pathname;

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

/** `token pid` lines the tools appended to `path`. */
function marks(path: string): { token: string; pid: number }[] {
  return (readFlag(path) ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [token, pid] = l.split(' ');
      return { token: token!, pid: Number(pid) };
    });
}

function nodeOf(pool: ToolPool, pid: number): string | undefined {
  return pool.stats().workers.find((w) => w.pid === pid)?.node;
}

function perNode(pool: ToolPool): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of pool.stats().workers) if (w.state === 'ready') out[w.node!] = (out[w.node!] ?? 0) + 1;
  return out;
}

describe('node groups', () => {
  test('perNode workers on each live node; a lost node is removed (no restart spent), a new incarnation grows the pool back', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    nodes.up('b');
    // restartIntensity 0: a single restart would end the pool's supervisor, so the pool surviving
    // the node's loss proves its slots were removed, not restarted.
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'groups',
      placement: { nodes: 'cluster', perNode: 2, provider: nodes },
      restartIntensity: 0,
    });
    try {
      let s = pool.stats();
      assert.equal(s.size, 4);
      assert.equal(s.readyWorkers, 4);
      assert.deepEqual(perNode(pool), { a: 2, b: 2 });
      assert.deepEqual(
        s.nodes.map((n) => [n.node, n.incarnation, n.live, n.workers]),
        [
          ['a', 1, true, 2],
          ['b', 1, true, 2],
        ],
      );
      for (const l of nodes.launches) {
        assert.equal(l.launch.pool, 'groups');
        assert.equal(l.launch.secret, pool.workerSecret());
        assert.deepEqual(l.launch.tools, [PLACEMENT_TOOLS]);
      }
      // Calls go to the least-loaded worker anywhere: 8 at once reach both nodes.
      const path = run.flag('spread');
      const pids = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          pool.call<number>('mark', { path, token: `s${i}`, seconds: 0.3 }),
        ),
      );
      assert.deepEqual(new Set(pids.map((p) => nodeOf(pool, p))), new Set(['a', 'b']));

      const lostPids = nodes.workersOn('a');
      await nodes.down('a');
      await waitFor(() => pool.stats().workers.length === 2, 'the pool to drop node a');
      s = pool.stats();
      assert.equal(s.size, 2);
      assert.deepEqual(perNode(pool), { b: 2 });
      assert.equal(s.restarts, 0);
      assert.equal(pool.running, true);
      assert.deepEqual(nodes.workersOn('a'), []);
      const a1 = s.nodes.find((n) => n.node === 'a')!;
      assert.equal(a1.live, false);
      assert.equal(a1.workers, 0);
      assert.equal(a1.calls, pids.filter((p) => lostPids.includes(p)).length, "node a's calls stay counted");
      // Still serving, from b.
      assert.equal(nodeOf(pool, await pool.call<number>('whoami')), 'b');

      nodes.up('a'); // incarnation 2
      await waitFor(() => pool.stats().readyWorkers === 4, 'the pool to grow back to 4');
      s = pool.stats();
      assert.equal(s.size, 4);
      assert.deepEqual(perNode(pool), { a: 2, b: 2 });
      assert.deepEqual(
        s.workers.filter((w) => w.node === 'a').map((w) => w.incarnation),
        [2, 2],
      );
      assert.equal(s.restarts, 0);
    } finally {
      await pool.stop();
    }
  });

  test('a node that goes down while its workers start: the slots are dropped, not restarted, and the pool grows when it is back', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'down-while-starting',
      placement: { nodes: 'cluster', perNode: 2, provider: nodes },
      restartIntensity: 0,
    });
    try {
      const launched = nodes.launches.length;
      nodes.up('b');
      // b's launches are under way (its Python workers are starting): b dies now.
      await waitFor(() => nodes.launches.length === launched + 2, "b's two launches to begin");
      await nodes.down('b');
      // (b's group exists since its launches began; it goes when the pool has handled the loss.)
      await waitFor(() => !pool.stats().nodes.some((n) => n.node === 'b' && n.live), 'the pool to drop b');
      // The launches that finished on the dead node were refused (ERR_NODE_DOWN) and their
      // processes killed; the slots left with b without a restart (intensity 0 would end the pool).
      await waitFor(() => nodes.workersOn('b').length === 0, "b's started workers to be gone");
      assert.equal(pool.running, true);
      assert.equal(pool.stats().restarts, 0);
      assert.deepEqual(perNode(pool), { a: 2 });
      assert.equal(pool.stats().size, 2);
      nodes.up('b');
      await waitFor(() => pool.stats().readyWorkers === 4, 'b (incarnation 2) to join');
      assert.deepEqual(perNode(pool), { a: 2, b: 2 });
    } finally {
      await pool.stop();
    }
  });

  test('a worker restarting on a node that goes down meanwhile is dropped, not restarted again', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    nodes.up('b');
    // Intensity 1: the crash's restart is allowed; a second restart (the relaunch failing on the dead
    // node and being retried) would end the pool's supervisor.
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'restart-on-dying-node',
      placement: { nodes: 'cluster', perNode: 1, provider: nodes },
      restartIntensity: 1,
      restartPeriodMs: 60_000,
    });
    try {
      const launched = nodes.launches.length;
      const [victim] = nodes.workersOn('b');
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => nodes.launches.length === launched + 1, "the restart's launch on b to begin");
      await nodes.down('b');
      await waitFor(() => pool.stats().workers.length === 1, 'the pool to drop b');
      assert.equal(pool.running, true);
      assert.equal(pool.stats().restarts, 0, 'the relaunch on the dead node never became a worker');
      assert.deepEqual(perNode(pool), { a: 1 });
      nodes.up('b');
      await waitFor(() => pool.stats().readyWorkers === 2, 'b to rejoin');
      assert.equal(pool.running, true);
    } finally {
      await pool.stop();
    }
  });

  test('a worker that crashes on a live node is restarted there, as a local one', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'crash-on-node',
      placement: { nodes: ['a'], perNode: 1, provider: nodes },
    });
    try {
      const [pid] = nodes.workersOn('a');
      process.kill(pid!, 'SIGKILL');
      await waitFor(() => {
        const w = pool.stats().workers;
        return w.length === 1 && w[0]!.pid !== pid && w[0]!.state === 'ready';
      }, 'a replacement on node a');
      assert.equal(pool.stats().restarts, 1);
      assert.equal(pool.stats().workers[0]!.node, 'a');
    } finally {
      await pool.stop();
    }
  });
});

describe('in a supervision tree', () => {
  test('the child spec: started with the tree, restarted by its parent onto the live nodes, stopped with the tree', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    nodes.up('b');
    const pool = new ToolPool({
      tools: PLACEMENT_TOOLS,
      name: 'tree-placed',
      placement: { nodes: 'cluster', perNode: 1, provider: nodes },
    });
    const app = await start(
      { flags: { strategy: 'one_for_one', intensity: 3, periodMs: 5000 }, children: [pool.childSpec()] },
      { handleSignals: false, exitProcess: false },
    );
    try {
      assert.deepEqual(perNode(pool), { a: 1, b: 1 });
      const oldSup = pool.pid!;
      const oldWorkers = [...nodes.workersOn('a'), ...nodes.workersOn('b')];
      exit(oldSup, 'kill');
      await waitFor(() => pool.running && pool.pid !== oldSup, 'the parent to restart the pool');
      await waitFor(() => pool.stats().readyWorkers === 2, 'the restarted pool on both nodes');
      assert.deepEqual(perNode(pool), { a: 1, b: 1 });
      await waitFor(
        () => oldWorkers.every((p) => !nodes.workersOn('a').includes(p) && !nodes.workersOn('b').includes(p)),
        'the old workers to exit',
      );
      assert.equal(typeof (await pool.call<number>('whoami')), 'number');
      // The restarted pool still follows the nodes.
      await nodes.down('b');
      await waitFor(() => pool.stats().workers.length === 1, 'the pool to drop node b');
      assert.deepEqual(perNode(pool), { a: 1 });
    } finally {
      const reason = await app.stop();
      assert.equal(reason.type, 'shutdown');
    }
    assert.equal(pool.running, false);
    assert.deepEqual(nodes.workersOn('a'), []);
  });
});

describe('calls on a lost node', () => {
  for (const why of ['down', 'unreachable'] as const) {
    const code = why === 'down' ? 'ERR_NODE_DOWN' : 'ERR_NODE_UNREACHABLE';
    test(`${why}: a non-idempotent call in flight fails with ${code} and never runs a second time`, async () => {
      const nodes = new LocalNodes();
      nodes.up('a');
      nodes.up('b');
      const pool = await ToolPool.start({
        tools: PLACEMENT_TOOLS,
        name: `lost-${why}`,
        placement: { nodes: 'cluster', perNode: 1, provider: nodes },
      });
      try {
        const path = run.flag(`once-${why}`);
        const call = pool.call('mark', { path, token: 'once', seconds: 30 });
        await waitFor(() => marks(path).length === 1, 'the tool to start');
        const pid = marks(path)[0]!.pid;
        const victim = nodeOf(pool, pid)!;
        await nodes.down(victim, why);
        const err = await rejectsWith<NodeDownError | NodeUnreachableError>(call, code);
        assert.ok(err instanceof (why === 'down' ? NodeDownError : NodeUnreachableError));
        assert.equal(err.node, victim);
        assert.equal(err.incarnation, 1);
        assert.deepEqual({ ...err.details }, { node: victim, incarnation: 1, tool: 'mark', workerPid: pid });
        assert.match(err.message, /not retried on another worker because its tool is not idempotent/);
        assert.equal(pool.stats().calls.retried, 0);
        // The pool serves from the other node, and the tool ran exactly once per call.
        const other = await pool.call<number>('mark', { path, token: 'after' });
        assert.notEqual(nodeOf(pool, other), victim);
        assert.deepEqual(
          marks(path).map((m) => m.token),
          ['once', 'after'],
        );
        assert.equal(pool.stats().errorsByCode[code], 1);
      } finally {
        await pool.stop();
      }
    });
  }

  test('idempotent calls in flight on a lost node are retried on the other node: none lost', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    nodes.up('b');
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'idem',
      concurrency: 2,
      placement: { nodes: 'cluster', perNode: 2, provider: nodes },
    });
    try {
      const path = run.flag('idem');
      const calls = Array.from({ length: 8 }, (_, i) =>
        pool.call<number>('mark_idem', { path, token: `t${i}`, seconds: 1 }),
      );
      await waitFor(() => marks(path).length === 8, 'all 8 calls to start');
      const onA = marks(path).filter((m) => nodeOf(pool, m.pid) === 'a');
      assert.ok(onA.length > 0, 'some calls ran on node a');
      await nodes.down('a');
      const pids = await Promise.all(calls);
      assert.equal(pids.length, 8);
      for (const p of pids) assert.equal(nodeOf(pool, p), 'b');
      // Each call that was on a ran again on b; the others ran once.
      const runs = new Map<string, number>();
      for (const m of marks(path)) runs.set(m.token, (runs.get(m.token) ?? 0) + 1);
      for (const m of onA) assert.equal(runs.get(m.token), 2, `${m.token} ran on a, then on b`);
      assert.equal([...runs.values()].filter((n) => n === 1).length, 8 - onA.length);
      const s = pool.stats();
      assert.equal(s.calls.retried, onA.length);
      assert.equal(s.calls.failed, 0);
      assert.equal(s.calls.succeeded, 8);
    } finally {
      await pool.stop();
    }
  });
});

describe('a retry after a node loss', () => {
  test('goes to another node, never to a sibling on the lost node whose exit has not arrived yet', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    nodes.up('b');
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'sibling',
      concurrency: 1,
      placement: { nodes: 'cluster', perNode: 2, provider: nodes },
    });
    const retried: string[] = [];
    pool.on((e) => {
      if (e.type === 'call_retried') retried.push(e.code);
    });
    try {
      await waitFor(() => pool.stats().readyWorkers === 4, '4 workers');
      const path = run.flag('sibling');
      // 3 long calls on 4 one-call workers: one node (x) has a busy and a free worker, the other (y)
      // two busy ones.
      const calls = ['t0', 't1', 't2'].map((token) =>
        pool.call<number>('mark_idem', { path, token, seconds: 2 }),
      );
      await waitFor(() => marks(path).length === 3, 'the 3 calls to start');
      const busy = marks(path);
      const x = ['a', 'b'].find((n) => busy.filter((m) => nodeOf(pool, m.pid) === n).length === 1)!;
      const victim = busy.find((m) => nodeOf(pool, m.pid) === x)!;
      // The first exit of node x arrives: the call on it fails with ERR_NODE_DOWN and is retried.
      // The only free worker is x's other one, still listed ready: the retry must not go there.
      await nodes.loseWorker(victim.pid);
      await waitFor(
        () =>
          pool.stats().queueDepth === 1 || marks(path).filter((m) => m.token === victim.token).length === 2,
        'the retry to be queued or sent',
      );
      await nodes.down(x); // the rest of node x goes
      const pids = await Promise.all(calls);
      assert.deepEqual(retried, ['ERR_NODE_DOWN']);
      const again = marks(path).filter((m) => m.token === victim.token);
      assert.equal(again.length, 2, 'the lost call ran once more');
      assert.notEqual(nodeOf(pool, again[1]!.pid), x, 'on the other node');
      assert.equal(pids.length, 3);
      assert.equal(pool.stats().calls.failed, 0, 'no idempotent call lost');
    } finally {
      await pool.stop();
    }
  });
});

describe('sessions across nodes', () => {
  test('affinity holds across nodes; a session whose node went down behaves as one whose worker died', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    registerPlacementProvider('test-nodes', nodes);
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'sessions-nodes',
      placement: { nodes: 'cluster', perNode: 1, provider: 'test-nodes' },
    });
    try {
      // Bound while a is the only node, so all three sessions live on a's worker.
      const sq = pool.createSession({ affinity: 'strict-queue' });
      const sff = pool.createSession({ affinity: 'strict-fail-fast' });
      const h = pool.createSession({ affinity: 'hint' });
      const pidA = await pool.call<number>('remember', { value: 'x' }, { sessionId: sq });
      for (const id of [sff, h])
        assert.equal(await pool.call('remember', { value: 'x' }, { sessionId: id }), pidA);
      nodes.up('b');
      await waitFor(() => pool.stats().readyWorkers === 2, 'node b to join');
      // b is idle, yet the sessions' calls stay on a, where their state is.
      for (let i = 0; i < 3; i++)
        for (const id of [sq, sff, h]) assert.equal(await pool.call('recall', {}, { sessionId: id }), 'x');
      assert.equal(pool.sessionWorker(h), pidA);

      await nodes.down('a');
      for (const id of [sq, sff]) {
        const e = await rejectsWith<Error & { details: { how: string } }>(
          pool.call('recall', {}, { sessionId: id }),
          'ERR_SESSION_WORKER_GONE',
        );
        assert.match(e.details.how, /lost with its node "a" \(incarnation 1, down\)/);
      }
      // hint: the call runs on b, where the state was never kept; the session rebinds there.
      assert.equal(await pool.call('recall', {}, { sessionId: h }), null);
      const pidB = await pool.call<number>('remember', { value: 'y' }, { sessionId: h });
      assert.equal(nodeOf(pool, pidB), 'b');
      assert.equal(await pool.call('recall', {}, { sessionId: h }), 'y');
      assert.equal(pool.sessionWorker(h), pidB);
    } finally {
      await pool.stop();
      unregisterPlacementProvider('test-nodes', nodes);
    }
  });
});

describe('recycling, quarantine and the circuit breaker on nodes', () => {
  test('maxCalls recycles each worker onto its own node, with recycles counted per worker and per node', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    nodes.up('b');
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'recycle-nodes',
      placement: { nodes: 'cluster', perNode: 1, provider: nodes },
      maxCalls: 2,
    });
    try {
      const first = new Set(pool.stats().workers.map((w) => w.pid));
      for (let i = 0; i < 8; i++) await pool.call('whoami');
      // Settled: three recycles or more, and every retired process gone (no worker draining).
      await waitFor(() => {
        const t = pool.stats();
        return t.recycles >= 3 && t.workers.length === 2 && t.readyWorkers === 2;
      }, 'three recycles, settled');
      const s = pool.stats();
      assert.deepEqual(perNode(pool), { a: 1, b: 1 }, 'each node keeps its one worker');
      for (const n of ['a', 'b']) {
        // Recycles are counted per slot: the node's slot here is its one worker's.
        const recycled = s.workers.filter((w) => w.node === n).reduce((k, w) => k + w.recycles, 0);
        const launched = nodes.launches.filter((l) => l.node.node === n).length;
        // A recycle's replacement is launched on the recycled worker's node, never elsewhere.
        assert.equal(launched, 1 + recycled, `launches on ${n}`);
      }
      assert.ok(
        s.workers.some((w) => !first.has(w.pid)),
        'a recycled worker runs as a new process',
      );
      assert.equal(s.restarts, 0, 'a recycle is not a restart');
    } finally {
      await pool.stop();
    }
  });

  test('a tool that crashes workers on two nodes is quarantined for the whole pool; each worker comes back on its own node; failures from both nodes open the circuit breaker', async () => {
    const nodes = new LocalNodes();
    nodes.up('a');
    nodes.up('b');
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'robust-nodes',
      placement: { nodes: 'cluster', perNode: 1, provider: nodes },
      maxConcurrentPerWorker: 1,
      quarantine: { crashes: 2, windowMs: 60_000, cooldownMs: 60_000 },
      circuitBreaker: { failures: 3, windowMs: 60_000, cooldownMs: 60_000, codes: ['ERR_TOOL_FAILED'] },
    });
    try {
      // Two crashes at once: one place per worker, so they land on both nodes.
      const pids = pool.stats().workers.map((w) => w.pid);
      const crashes = await Promise.allSettled([pool.call('crash'), pool.call('crash')]);
      for (const c of crashes) {
        assert.equal(c.status, 'rejected');
        assert.equal((c.reason as { code: string }).code, 'ERR_WORKER_EXITED');
      }
      await waitFor(() => pool.stats().readyWorkers === 2, 'both crashed workers to be restarted');
      assert.deepEqual(perNode(pool), { a: 1, b: 1 }, 'restarted on their own nodes');
      assert.ok(pool.stats().workers.every((w) => !pids.includes(w.pid)));
      assert.equal(pool.stats().restarts, 2);
      const q = await rejectsWith(pool.call('crash'), 'ERR_TOOL_QUARANTINED');
      assert.match(q.message, /crashed 2 workers/);
      assert.equal(typeof (await pool.call('whoami')), 'number', 'other tools still run');

      // The breaker: failures on both nodes count together for the pool.
      const path = run.flag('breaker');
      const fails = await Promise.allSettled([pool.call('fail', { path }), pool.call('fail', { path })]);
      assert.deepEqual(
        fails.map((f) => f.status === 'rejected' && (f.reason as { code: string }).code),
        ['ERR_TOOL_FAILED', 'ERR_TOOL_FAILED'],
      );
      assert.deepEqual(
        new Set(marks(path).map((m) => nodeOf(pool, m.pid))),
        new Set(['a', 'b']),
        'the two failures ran on both nodes',
      );
      assert.equal(pool.stats().circuit, 'closed');
      await rejectsWith(pool.call('fail', { path }), 'ERR_TOOL_FAILED');
      assert.equal(pool.stats().circuit, 'open');
      await rejectsWith(pool.call('whoami'), 'ERR_CIRCUIT_OPEN');
      assert.equal(marks(path).length, 3, 'nothing ran once the breaker opened');
    } finally {
      await pool.stop();
    }
  });
});

describe('placement options', () => {
  test('no provider registered: the start fails naming what to start', async () => {
    const pool = new ToolPool({
      tools: PLACEMENT_TOOLS,
      name: 'no-provider',
      placement: { nodes: 'cluster', perNode: 1 },
    });
    const e = await rejectsWith(pool.start(), 'ERR_INVALID_POOL_OPTIONS');
    assert.match(e.message, /no placement provider "cluster" is registered/);
    assert.match(e.message, /@trellis\/cluster/);
    assert.equal(pool.running, false);
  });

  test('bad placement options are refused when the pool is made', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ placement: { nodes: 'cluster', perNode: 0 } }, /placement\.perNode is 0/],
      [{ placement: { nodes: [], perNode: 1 } }, /placement\.nodes is \[\]/],
      [{ placement: { nodes: 'all', perNode: 1 } }, /placement\.nodes is "all"/],
      [{ placement: { nodes: 'cluster', perNode: 1, provider: 7 } }, /placement\.provider is 7/],
      [{ placement: { nodes: 'cluster', perNode: 1 }, size: 4 }, /leave size out with placement/],
      [
        { placement: { nodes: 'cluster', perNode: 1 }, python: { requirements: ['x'] } },
        /an interpreter that exists on every agent node/,
      ],
    ];
    for (const [extra, msg] of bad) {
      assert.throws(
        () => new ToolPool({ tools: PLACEMENT_TOOLS, ...extra } as never),
        (e: Error & { code?: string }) => e.code === 'ERR_INVALID_POOL_OPTIONS' && msg.test(e.message),
        JSON.stringify(extra),
      );
    }
  });

  test('no live node at start: the pool starts empty and grows when a node joins', async () => {
    const nodes = new LocalNodes();
    const pool = await ToolPool.start({
      tools: PLACEMENT_TOOLS,
      name: 'empty-start',
      placement: { nodes: ['a'], perNode: 1, provider: nodes },
    });
    try {
      assert.equal(pool.stats().size, 0);
      const call = pool.call<number>('whoami');
      nodes.up('b'); // not selected by nodes: ['a']
      nodes.up('a');
      assert.equal(nodeOf(pool, await call), 'a');
      assert.equal(pool.stats().size, 1);
    } finally {
      await pool.stop();
    }
  });
});

describe('over mTLS', () => {
  test("workers listen with mTLS, refuse clients without a certificate of the CA, and reach the pool's host tools over its TLS listener", async () => {
    const certs = makeTestCerts();
    try {
      const nodes = new LocalNodes({
        tls: { caFile: certs.ca, certFile: certs.cert, keyFile: certs.key },
        hostListen: {
          bind: '127.0.0.1:0',
          credentials: ServerCredentials.createSsl(
            certs.read(certs.ca),
            [{ private_key: certs.read(certs.key), cert_chain: certs.read(certs.cert) }],
            true,
          ),
          advertise: '127.0.0.1',
        },
      });
      nodes.up('a');
      const pool = new ToolPool({
        tools: PLACEMENT_TOOLS,
        name: 'tls-nodes',
        placement: { nodes: 'cluster', perNode: 1, provider: nodes },
      });
      pool.exposeHostTool('upper', { type: 'object', properties: { text: { type: 'string' } } }, (args) =>
        String((args as { text: string }).text).toUpperCase(),
      );
      await pool.start();
      try {
        assert.match(nodes.launches[0]!.launch.hostAddress ?? '', /^127\.0\.0\.1:\d+$/);
        assert.equal(await pool.call('call_host', { tool: 'upper', args: { text: 'over tls' } }), 'OVER TLS');
        const address = pool.stats().workers[0]!.address;
        // Plain TCP, and a certificate of another CA: refused at the handshake, the tool never runs.
        const refused = async (tls: Parameters<typeof createToolClient>[3]): Promise<ServiceError> => {
          const c = createToolClient(address, 1 << 20, pool.workerSecret(), tls);
          try {
            return await new Promise<ServiceError>((resolve, reject) =>
              c.Describe({}, { deadline: new Date(Date.now() + 5000) }, (err) =>
                err ? resolve(err) : reject(new Error('the worker answered')),
              ),
            );
          } finally {
            c.close();
          }
        };
        assert.equal((await refused(undefined)).code, status.UNAVAILABLE);
        assert.equal(
          (
            await refused({
              ca: certs.read(certs.ca),
              cert: certs.read(certs.otherCert),
              key: certs.read(certs.otherKey),
            })
          ).code,
          status.UNAVAILABLE,
        );
        // The pool's own client still gets through.
        assert.equal(nodeOf(pool, await pool.call<number>('whoami')), 'a');
      } finally {
        await pool.stop();
      }
    } finally {
      certs.remove();
    }
  });
});
