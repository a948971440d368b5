/**
 * Thread actors with real worker threads: start, call/cast, links and monitors in both directions,
 * transfer, cloneability, ordering, and threads starting threads.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { awaitExit, call, cast, exit, monitor, send } from '../src/actor.js';
import { Exit } from '../src/exit-reason.js';
import { IGNORE, InitFailedError } from '../src/gen.js';
import { defineServer, reply, startServer } from '../src/gen-server.js';
import { nodeOf, type Pid } from '../src/pid.js';
import { spawnThread } from '../src/thread/thread-actor.js';
import { collector, fixture, isExit, noThreadsLeft, pollCall } from './fixtures/thread-helpers.js';

const SERVER = fixture('thread-server');
const BODY = fixture('thread-body');

afterEach(noThreadsLeft);

async function stopThread(pid: Pid): Promise<void> {
  const done = awaitExit(pid);
  exit(pid, 'kill');
  await done;
}

describe('thread actors: start, call, cast', () => {
  test('a gen_server thread actor answers calls and casts from the main thread', async () => {
    const pid = (await spawnThread(SERVER, { args: [{ count: 5 }] })) as Pid;
    assert.notEqual(nodeOf(pid), 0, 'the actor lives in another thread');
    assert.equal(await call(pid, { op: 'get' }), 5);
    cast(pid, { op: 'add', n: 10 });
    assert.equal(await call(pid, { op: 'add', n: 1 }), 16);
    const v = { m: new Map([[1, { d: new Date(7) }]]), s: new Set(['x']), u: new Uint8Array([1, 2, 3]) };
    assert.deepEqual(await call(pid, { op: 'echo', v }), v);
    const done = awaitExit(pid);
    exit(pid, Exit.shutdown());
    assert.deepEqual(await done, Exit.shutdown());
  });

  test('the root can be registered under a name in its own thread', async () => {
    const pid = (await spawnThread(SERVER, { args: [{}], name: 'counter' })) as Pid;
    assert.deepEqual(await call(pid, { op: 'self', name: 'counter' }), { self: pid, threadNames: pid });
    await stopThread(pid);
  });

  test('a plain function module runs as the body and ends with normal', async () => {
    const c = collector();
    const pid = (await spawnThread(BODY, { args: ['echo'] })) as Pid;
    const downs: unknown[] = [];
    monitor(pid, (reason) => downs.push(reason));
    send(pid, { from: c.pid, v: [1, 'two'] });
    assert.deepEqual(await c.next((m) => m.echo !== undefined), { echo: [1, 'two'], self: pid });
    const done = awaitExit(pid);
    send(pid, 'stop');
    assert.deepEqual(await done, Exit.normal);
    assert.deepEqual(downs, [Exit.normal]);
    await c.stop();
  });

  test('init returning ignore() gives IGNORE and the thread ends', async () => {
    assert.equal(await spawnThread(SERVER, { args: [{ ignore: true }] }), IGNORE);
  });

  test('init failing rejects with InitFailedError and the linked parent gets the reason', async () => {
    const parent = collector({ trapExit: true });
    const err = await spawnThread(SERVER, { args: [{ fail: 'no config' }], link: parent.pid }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e as InitFailedError,
    );
    assert.ok(err instanceof InitFailedError);
    assert.equal(err.reason.type, 'error');
    const cause = (err.reason as { cause: Error }).cause;
    assert.equal(cause.name, 'RangeError');
    assert.equal(cause.message, 'no config');
    assert.match(cause.stack ?? '', /thread-server/);
    const ex = await parent.next((m) => m.type === 'EXIT', 'EXIT of the failed root');
    assert.equal(ex.reason.type, 'error');
    assert.equal(ex.reason.cause.message, 'no config');
    await parent.stop();
  });

  test('a module that cannot be used fails the start with ERR_THREAD_MODULE', async () => {
    for (const name of ['thread-bad-export', 'thread-import-throws', 'thread-does-not-exist']) {
      const err = (await spawnThread(fixture(name)).then(
        () => assert.fail(`${name} should not start`),
        (e: unknown) => e,
      )) as InitFailedError;
      assert.equal(err.code, 'ERR_INIT_FAILED', name);
      assert.equal((err.reason as { cause: { code: string } }).cause.code, 'ERR_THREAD_MODULE', name);
    }
  });

  test('bad options are rejected with ERR_INVALID_THREAD_OPTIONS before any thread starts', async () => {
    const bad: Array<[unknown, unknown]> = [
      [42, {}],
      ['', {}],
      [SERVER, { args: 'x' }],
      [SERVER, { link: 'not-a-pid' }],
      [SERVER, { name: '' }],
      [SERVER, { execArgv: [1] }],
    ];
    for (const [url, opts] of bad) {
      await assert.rejects(spawnThread(url as string, opts as object), {
        code: 'ERR_INVALID_THREAD_OPTIONS',
      });
    }
    await assert.rejects(spawnThread(SERVER, { args: [() => 1] }), { code: 'ERR_NOT_CLONEABLE' });
    // What only new Worker can check is refused as a rejection too, not a throw.
    await assert.rejects(spawnThread(SERVER, { execArgv: ['--no-such-flag'] }), {
      code: 'ERR_WORKER_INVALID_EXEC_ARGV',
    });
  });
});

describe('thread actors: messages', () => {
  test('a non-cloneable message fails at the call site with ERR_NOT_CLONEABLE', async () => {
    const pid = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    assert.throws(() => send(pid, { f: () => 1 }), { code: 'ERR_NOT_CLONEABLE' });
    assert.throws(() => cast(pid, { op: 'add', n: Symbol('x') }), { code: 'ERR_NOT_CLONEABLE' });
    await assert.rejects(call(pid, { op: 'echo', v: new WeakMap() }), { code: 'ERR_NOT_CLONEABLE' });
    assert.equal(await call(pid, { op: 'get' }), 0, 'the actor is unaffected');
    await stopThread(pid);
  });

  test('a large ArrayBuffer is transferred: detached on the sender, intact at the actor', async () => {
    const c = collector();
    const pid = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const size = 32 << 20;
    const buf = new ArrayBuffer(size);
    const view = new Uint8Array(buf);
    let sum = 0;
    for (let i = 0; i < size; i += 4096) {
      view[i] = i % 251;
      sum += i % 251;
    }
    send(pid, { op: 'buf', buf, replyTo: c.pid }, { transfer: [buf] });
    assert.equal(buf.byteLength, 0, 'the sender no longer owns the buffer');
    assert.deepEqual(await c.next((m) => m.byteLength !== undefined), { byteLength: size, sum });
    await stopThread(pid);
    await c.stop();
  });

  test('a buffer transferred from one thread to another is moved, not copied, through the main thread', async () => {
    const c = collector();
    const a = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const b = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const size = 8 << 20;
    assert.deepEqual(await call(a, { op: 'sendBuf', to: b, size, replyTo: c.pid }), { detached: true });
    let sum = 0;
    for (let i = 0; i < size; i += 4096) sum += i % 251;
    assert.deepEqual(await c.next((m) => m.byteLength !== undefined), { byteLength: size, sum });
    await stopThread(a);
    await stopThread(b);
    await c.stop();
  });

  test('many messages from one sender arrive in order, in both directions and between threads', async () => {
    const n = 20_000;
    const c = collector();
    const a = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const b = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    // main -> thread
    for (let i = 0; i < n; i++) send(a, { seq: i });
    assert.deepEqual(await call(a, { op: 'seq' }), { seen: n, inOrder: true });
    // thread -> main
    await call(a, { op: 'sendMany', to: c.pid, n });
    await c.next((m) => m.seq === n - 1, 'the last message');
    assert.deepEqual(
      c.msgs.map((m) => (m as { seq: number }).seq),
      Array.from({ length: n }, (_, i) => i),
    );
    // thread -> thread (through the main thread)
    await call(a, { op: 'sendMany', to: b, n });
    // a's messages to b were all sent before a replied; a call from a to b after them is ordered behind them.
    assert.deepEqual(await call(a, { op: 'call', to: b, req: { op: 'seq' } }), {
      ok: { seen: n, inOrder: true },
    });
    await stopThread(a);
    await stopThread(b);
    await c.stop();
  });
});

describe('thread actors: links and monitors across threads', () => {
  const mainServer = defineServer<number, []>({
    init: () => 100,
    handleCall: (req: { op: string }, _from, s) => reply(req.op === 'get' ? s : -1, s),
  });

  test('a thread actor calls a main-thread server, by pid and by its name (names resolve across threads)', async () => {
    const srv = (await startServer(mainServer, [], { name: 'main-counter' })) as Pid;
    const pid = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    assert.deepEqual(await call(pid, { op: 'call', to: srv, req: { op: 'get' } }), { ok: 100 });
    // The thread got the directory of names when it booted (names-across-threads.test.ts has more).
    assert.deepEqual(await call(pid, { op: 'call', to: 'main-counter', req: { op: 'get' } }), { ok: 100 });
    // An unknown name is still ERR_NOPROC.
    const byName = (await call(pid, { op: 'call', to: 'no-such-name', req: { op: 'get' } })) as {
      error: string;
    };
    assert.equal(byName.error, 'ERR_NOPROC');
    await stopThread(pid);
    const d = awaitExit(srv);
    exit(srv, 'kill');
    await d;
  });

  test('thread -> main: link gives EXIT with the reason, monitor gives DOWN with the reason', async () => {
    const target = collector();
    const pid = (await spawnThread(SERVER, { args: [{ trap: true }] })) as Pid;
    await call(pid, { op: 'link', pid: target.pid });
    const ref = await call(pid, { op: 'monitor', pid: target.pid });
    exit(target.pid, Exit.shutdown('bye'));
    const infos = await pollCall<any[]>(pid, { op: 'infos' }, (x) => x.length >= 2, 'EXIT and DOWN');
    assert.deepEqual(
      infos.find((m) => m.type === 'EXIT'),
      { type: 'EXIT', from: target.pid, reason: Exit.shutdown('bye') },
    );
    assert.deepEqual(
      infos.find((m) => m.type === 'DOWN'),
      { type: 'DOWN', ref, pid: target.pid, reason: Exit.shutdown('bye') },
    );
    await stopThread(pid);
  });

  test('main -> thread: a trapping main actor gets EXIT, a monitor DOWN, with the exact reason', async () => {
    const watcher = collector({ trapExit: true });
    const pid = (await spawnThread(SERVER, { args: [{}], link: watcher.pid })) as Pid;
    const downs: unknown[] = [];
    monitor(pid, (r) => downs.push(r));
    assert.equal(await call(pid, { op: 'stop', reason: Exit.shutdown({ why: 'done' }) }), 'stopping');
    const ex = await watcher.next(isExit(pid), 'EXIT from the thread root');
    assert.deepEqual(ex.reason, Exit.shutdown({ why: 'done' }));
    await awaitExit(pid);
    assert.deepEqual(downs, [Exit.shutdown({ why: 'done' })]);
    await watcher.stop();
  });

  test('a non-trapping thread actor linked to a main actor dies with it; unlink stops that', async () => {
    const a = collector();
    const b = collector();
    const t1 = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const t2 = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    await call(t1, { op: 'link', pid: a.pid });
    await call(t2, { op: 'link', pid: b.pid });
    await call(t2, { op: 'unlink', pid: b.pid });
    const d1 = awaitExit(t1);
    exit(a.pid, Exit.error('main actor crashed'));
    assert.deepEqual(await d1, Exit.error('main actor crashed'));
    exit(b.pid, Exit.error('main actor crashed'));
    assert.equal(await call(t2, { op: 'get' }), 0, 'the unlinked actor lives on');
    await stopThread(t2);
  });

  test('linking or monitoring a pid of a thread that has ended gives noproc', async () => {
    const pid = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    await stopThread(pid);
    await noThreadsLeft();
    const w = collector({ trapExit: true });
    const t = (await spawnThread(SERVER, { args: [{ trap: true }] })) as Pid;
    await call(t, { op: 'link', pid });
    const ref = await call(t, { op: 'monitor', pid });
    const infos = await pollCall<any[]>(t, { op: 'infos' }, (x) => x.length >= 2, 'EXIT and DOWN');
    assert.deepEqual(
      infos.find((m) => m.type === 'EXIT'),
      { type: 'EXIT', from: pid, reason: Exit.noproc },
    );
    assert.deepEqual(
      infos.find((m) => m.type === 'DOWN'),
      { type: 'DOWN', ref, pid, reason: Exit.noproc },
    );
    await assert.rejects(call(pid, { op: 'get' }), { code: 'ERR_NOPROC' });
    assert.deepEqual(await awaitExit(pid), Exit.noproc);
    await stopThread(t);
    await w.stop();
  });

  test('the other processes of a thread end with its root: a main monitor sees killed', async () => {
    const pid = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const helper = (await call(pid, { op: 'spawnLocal' })) as Pid;
    assert.equal(nodeOf(helper), nodeOf(pid));
    const helperDown = awaitExit(helper);
    exit(pid, Exit.shutdown());
    assert.deepEqual(await helperDown, Exit.killed);
  });
});

describe('thread actors: threads starting threads', () => {
  test('a thread actor spawns a linked thread actor, calls it and sees its EXIT', async () => {
    const parent = (await spawnThread(fixture('thread-spawner'))) as Pid;
    const { pid: child } = (await call(parent, {
      op: 'spawn',
      url: SERVER.href,
      args: [{ count: 3 }],
      link: true,
    })) as {
      pid: Pid;
    };
    assert.notEqual(nodeOf(child), nodeOf(parent));
    assert.equal(await call(child, { op: 'get' }), 3);
    exit(child, 'kill');
    const infos = await pollCall<any[]>(parent, { op: 'infos' }, (x) => x.length > 0, 'EXIT of the child');
    assert.deepEqual(infos, [{ type: 'EXIT', from: child, reason: Exit.killed }]);
    const failed = (await call(parent, { op: 'spawn', url: SERVER.href, args: [{ fail: 'nope' }] })) as {
      error: string;
      reason: { type: string };
    };
    assert.equal(failed.error, 'ERR_INIT_FAILED');
    assert.equal(failed.reason.type, 'error');
    await stopThread(parent);
  });
});
