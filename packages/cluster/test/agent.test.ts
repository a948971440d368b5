/**
 * The agent (issue 15): `trellis agent` as its own OS process on a real etcd, real Python workers it
 * hosts for a client node (this test process), launched, watched, stopped and killed through the
 * Agent service; and its kill rules: its own kill -9 (workers die with it), an owner that stops
 * watching (killed after ownerGraceMs), its own member lease lost (etcd stopped: every worker killed
 * while the agent still runs), an owner node that goes down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { isProcessAlive, readProcCmdline, readProcStat } from '@trellis/core';
import { AgentConnection } from '../src/agent/agent-client.js';
import type { WireExit } from '../src/agent/agent-wire.js';
import { agentMain, type LocalEtcd } from '../src/index.js';
import {
  executeRaw,
  insecureAgentArgs,
  launchReq,
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
async function setup(agentArgs: string[] = []) {
  const cluster = `agent${process.pid}x${++seq}`;
  const agent = await startAgentProcess(
    cleanup,
    insecureAgentArgs(etcd.endpoints, cluster, 'agent-1', agentArgs),
    { TRELLIS_HOME: home },
  );
  const client = await startClientNode(cleanup, etcd.endpoints, cluster);
  const member = await waitFor(
    () => client.nodes().find((m) => m.node === 'agent-1'),
    'the agent in the client view',
  );
  assert.deepEqual(member.roles, ['agent']);
  const conn = new AgentConnection('agent-1', member.address, undefined);
  cleanup.add(() => conn.close());
  const owner = { node: 'client', incarnation: client.incarnation };
  return { agent, client, conn, owner };
}

describe('trellis agent', () => {
  test('launches a worker for a pool: a child of the agent, called directly, watched, stopped', async () => {
    const { agent, conn, owner } = await setup();
    const rep = await conn.launch(launchReq(owner), 30_000);
    assert.equal(readProcStat(rep.pid)?.ppid, agent.ready.pid, 'the worker is the agent process child');
    assert.match(rep.address, /^127\.0\.0\.1:\d+$/);
    assert.equal((rep.info as { tools: { name: string }[] }).tools.length, 4);
    // The data path: straight to the worker, with the pool's secret; the pool's env reached it.
    assert.deepEqual(await executeRaw(rep.address, 'whoami', {}), { pid: rep.pid, extra: 'from-the-pool' });
    let exit: WireExit | undefined;
    conn.watch(
      rep.workerId,
      100,
      (e) => {
        exit = e;
      },
      (e) => assert.fail(`watch failed: ${e.message}`),
    );
    const stopped = await conn.stop(rep.workerId, 2000);
    assert.equal(stopped.pid, rep.pid);
    await waitFor(() => exit, 'the Watch to report the exit');
    assert.equal(exit?.pid, rep.pid);
    assert.equal(isProcessAlive(rep.pid), false);
    // A late watch of the stopped worker still gets its exit; an unknown one is refused by code.
    const late = await new Promise<WireExit>((res, rej) => conn.watch(rep.workerId, 100, res, rej));
    assert.equal(late.pid, rep.pid);
    await assert.rejects(new Promise((res, rej) => conn.watch('no-such-worker', 100, res, rej)), {
      code: 'ERR_AGENT_NO_WORKER',
    });
    // Malformed launches are refused by field, nothing spawned.
    await assert.rejects(
      conn.launch(launchReq(owner, { tools: [] }), 5000),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_AGENT_REFUSED');
        assert.match(e.message, /launch\.tools/);
        return true;
      },
    );
    await assert.rejects(conn.launch(launchReq(owner, { secret: 'short' }), 5000), {
      code: 'ERR_AGENT_REFUSED',
    });
    // SIGTERM (stdin closed): the agent stops in order and exits 0.
    const again = await conn.launch(launchReq(owner, { slot: 1 }), 30_000);
    const w = conn.watch(
      again.workerId,
      100,
      () => {},
      () => {},
    );
    await agent.child.stop();
    w();
    assert.deepEqual(await agent.child.exited, { code: 0, signal: null });
    assert.equal(isProcessAlive(again.pid), false);
  });

  test('kill -9 of the agent: its workers die with it, and so do their escaped descendants', async () => {
    const { agent, conn, owner } = await setup();
    const reps = await Promise.all(
      [0, 1].map((slot) => conn.launch(launchReq(owner, { slot, maxRssMb: 512 }), 30_000)),
    );
    // Launched as a local pool launches: the registry's run marker, the memory cap.
    const argv = (readProcCmdline(reps[0]!.pid) ?? []).join(' ');
    assert.match(argv, /--trellis-run-id=/);
    assert.match(argv, /--max-rss-mb 512/);
    const escaped = (await executeRaw(reps[0]!.address, 'escape', {})) as number[];
    assert.ok(escaped.every((p) => isProcessAlive(p)));
    const pids = [...reps.map((r) => r.pid), ...escaped];
    for (const r of reps)
      conn.watch(
        r.workerId,
        100,
        () => {},
        () => {},
      );
    assert.ok(pids.every((p) => isProcessAlive(p)));
    agent.child.kill9();
    await agent.child.exited;
    await waitGone(pids, 'the workers of the killed agent and their descendants to be gone', 5000);
  });

  test('an owner that stops watching: its worker is killed after ownerGraceMs, not before', async () => {
    const { conn, owner } = await setup(['--owner-grace-ms', '1500']);
    const watched = await conn.launch(launchReq(owner, { slot: 0 }), 30_000);
    const unwatched = await conn.launch(launchReq(owner, { slot: 1 }), 30_000);
    const stopWatching = conn.watch(
      unwatched.workerId,
      100,
      () => {},
      () => {},
    );
    conn.watch(
      watched.workerId,
      100,
      () => {},
      () => {},
    );
    const t0 = Date.now();
    stopWatching();
    await waitGone([unwatched.pid], 'the unwatched worker to be killed', 10_000);
    const took = Date.now() - t0;
    assert.ok(took >= 1400, `killed after ${took} ms, before the grace of 1500 ms`);
    assert.equal(isProcessAlive(watched.pid), true, 'the watched worker lives on');
  });

  test('the agent loses its member lease (etcd stopped): it kills every worker while it runs', async () => {
    const { agent, conn, owner } = await setup();
    const reps = await Promise.all([0, 1].map((slot) => conn.launch(launchReq(owner, { slot }), 30_000)));
    for (const r of reps)
      conn.watch(
        r.workerId,
        100,
        () => {},
        () => {},
      );
    const etcdPid = etcd.members[0]!.proc!.pid!;
    process.kill(etcdPid, 'SIGSTOP');
    try {
      // The owner still watches (no etcd needed for that): only the lease rule can fire.
      await waitGone(
        reps.map((r) => r.pid),
        'the workers of the agent cut off from etcd to be killed',
        5000,
      );
      assert.equal(isProcessAlive(agent.ready.pid), true, 'the agent itself runs on');
      await assert.rejects(
        conn.launch(launchReq(owner, { slot: 2 }), 10_000),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'ERR_AGENT_REFUSED');
          assert.match(e.message, /member lease/);
          return true;
        },
      );
    } finally {
      process.kill(etcdPid, 'SIGCONT');
    }
  });

  test('an agent paused past its member TTL (SIGSTOP) kills its workers as soon as it runs again', async () => {
    const { agent, client, conn, owner } = await setup(['--owner-grace-ms', '60000']);
    const reps = await Promise.all([0, 1].map((slot) => conn.launch(launchReq(owner, { slot }), 30_000)));
    for (const r of reps)
      conn.watch(
        r.workerId,
        100,
        () => {},
        () => {},
      );
    const downs: number[] = [];
    client.monitorNode('agent-1', (e) => {
      if (e.type === 'nodedown') downs.push(e.incarnation);
    });
    process.kill(agent.ready.pid, 'SIGSTOP');
    let resumed = 0;
    try {
      // The others count it down (its lease expired in etcd); its workers still run meanwhile.
      await waitFor(() => downs.length > 0, 'the paused agent to be declared down', 10_000);
      assert.ok(reps.every((r) => isProcessAlive(r.pid)));
    } finally {
      process.kill(agent.ready.pid, 'SIGCONT');
      resumed = Date.now();
    }
    // Its first act back: the lease deadline passed long ago, every worker goes.
    await waitGone(
      reps.map((r) => r.pid),
      'the resumed agent to kill its workers',
      5000,
    );
    const took = Date.now() - resumed;
    assert.ok(took < 2000, `killed ${took} ms after SIGCONT`);
  });

  test('garbage frames and oversized requests on the Agent service are refused; the agent serves on', async () => {
    const { conn, owner, client } = await setup();
    const member = client.membership.get('agent-1')!;
    const raw = (path: string) => ({
      path: `/trellis.cluster.v1.Agent/${path}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    });
    const Raw = makeGenericClientConstructor({ Launch: raw('Launch'), Kill: raw('Kill') }, 'RawAgent');
    const rc = new Raw(member.address, credentials.createInsecure()) as unknown as Record<
      string,
      (req: Buffer, md: Metadata, opts: object, cb: (e: ServiceError | null, r?: Buffer) => void) => void
    > & { close(): void };
    const send = (method: string, body: Buffer) =>
      new Promise<{ err: ServiceError | null; rep: string }>((resolve) =>
        rc[method]!(body, new Metadata(), { deadline: Date.now() + 5000 }, (err, rep) =>
          resolve({ err, rep: rep?.toString('utf8') ?? '' }),
        ),
      );
    try {
      for (const body of [
        Buffer.from('not json {'),
        Buffer.from([0, 1, 2, 255]),
        Buffer.from('null'),
        Buffer.from('[1,2,3]'),
        Buffer.from(JSON.stringify({ owner: { node: 'x'.repeat(300), incarnation: 1, pool: 'p' } })),
        Buffer.from(JSON.stringify(launchReq(owner, { tools: ['a,b'] }))),
        Buffer.from(JSON.stringify(launchReq(owner, { env: { 'BAD=NAME': 'x' } }))),
        Buffer.alloc(8 * 1024 * 1024, 0x7b),
      ]) {
        const r = await send('Launch', body);
        // Either grpc-js refuses the frame (a status), or the agent answers { e } with its code.
        if (r.err === null) assert.match(r.rep, /ERR_AGENT_REFUSED/, r.rep.slice(0, 200));
        else assert.notEqual(r.err.code, 0);
      }
      const k = await send('Kill', Buffer.from('{"workerId": 12}'));
      assert.match(k.rep, /ERR_AGENT_NO_WORKER/);
    } finally {
      rc.close();
    }
    // Nothing was spawned, and a good launch still works.
    const rep = await conn.launch(launchReq(owner), 30_000);
    assert.equal(((await executeRaw(rep.address, 'whoami', {})) as { pid: number }).pid, rep.pid);
  });

  test('trellis agent refuses bad command lines with the reason and the usage', async () => {
    const run = async (args: string[], env: Record<string, string> = {}) => {
      let out = '';
      let err = '';
      const code = await agentMain(args, {
        env,
        cwd: home,
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s) },
      });
      return { code, out, err };
    };
    assert.match((await run(['--help'])).out, /usage: pnpm trellis agent --cluster/);
    const cases: [string[], RegExp][] = [
      [[], /--cluster <name> is required/],
      [['--cluster', 'c'], /no etcd endpoints/],
      [['--cluster', 'c', '--etcd', 'http://127.0.0.1:1', '--certs', home, '--insecure'], /not both/],
      [['--cluster', 'c', '--etcd', 'http://127.0.0.1:1', '--owner-grace-ms', 'soon'], /whole number/],
      [['--cluster', 'c', '--bogus'], /unknown argument "--bogus"/],
    ];
    for (const [args, why] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, why);
      assert.match(r.err, /usage:/);
    }
    // No certificate for the node where --certs points: exit 1, saying how to make one.
    const r = await run(['--cluster', 'c', '--etcd', etcd.endpoints[0]!, '--node', 'n1', '--certs', home]);
    assert.equal(r.code, 1);
    assert.match(r.err, /trellis certs issue n1/);
  });

  test("the owner node goes down: the agent kills that owner's workers", async () => {
    const { client, conn, owner } = await setup(['--owner-grace-ms', '60000']);
    const rep = await conn.launch(launchReq(owner), 30_000);
    conn.watch(
      rep.workerId,
      100,
      () => {},
      () => {},
    );
    // An orderly stop revokes the member lease: every node sees the owner go down at once.
    await client.stop();
    await waitGone([rep.pid], "the down owner's worker to be killed", 5000);
  });
});
