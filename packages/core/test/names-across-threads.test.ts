/**
 * Names across threads: a name registered in any thread of this Node.js process resolves from every
 * thread (the main thread's hub keeps the directory and replicates it), and runTask reaches a task
 * pool of another thread by its name. Real threads throughout.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  call,
  defineServer,
  exit,
  NameTakenError,
  type Pid,
  register,
  reply,
  runTask,
  startServer,
  stopServer,
  unregister,
  whereis,
} from '../src/index.js';
import { spawnThread } from '../src/thread/thread-actor.js';
import { eventually, fixture, noThreadsLeft, waitFor } from './fixtures/thread-helpers.js';

afterEach(noThreadsLeft);

async function killAll(...pids: Pid[]): Promise<void> {
  for (const p of pids) {
    const gone = awaitExit(p);
    exit(p, 'kill');
    await gone;
  }
}

describe('names across threads', () => {
  test("a thread actor's name, registered in its own thread, resolves in the main thread and in another thread", async () => {
    const a = (await spawnThread(fixture('thread-server'), { name: 'alpha', args: [{ count: 7 }] })) as Pid;
    const b = (await spawnThread(fixture('thread-server'), { args: [{}] })) as Pid;
    await waitFor(() => whereis('alpha') === a, 'alpha in the main thread');
    assert.equal(await call('alpha', { op: 'get' }), 7);
    // From thread b, by name: the directory was replicated there.
    const fromB = await eventually(
      () => call<{ ok?: unknown; error?: string }>(b, { op: 'call', to: 'alpha', req: { op: 'get' } }),
      (r) => r.ok !== undefined,
      'alpha from thread b',
    );
    assert.deepEqual(fromB, { ok: 7 });
    // Registering it again anywhere is refused with the holder's pid.
    assert.throws(
      () => register('alpha', b as string as Pid),
      (e: NameTakenError) => e instanceof NameTakenError && e.pid === a,
    );
    await killAll(a);
    // Freed everywhere when its thread ends.
    await waitFor(() => whereis('alpha') === undefined, 'alpha to be freed in main');
    const after = await eventually(
      () => call<{ threadNames: unknown }>(b, { op: 'self', name: 'alpha' }),
      (r) => r.threadNames === null,
      'alpha to be freed in thread b',
    );
    assert.equal(after.threadNames, null);
    await killAll(b);
  });

  test('a name registered in the main thread resolves in a thread', async () => {
    const echo = defineServer({
      init: () => 0,
      handleCall: (req: string, _f, s: number) => reply(`main got ${req}`, s),
    });
    const server = (await startServer(echo, [], { name: 'main-echo' })) as Pid;
    const t = (await spawnThread(fixture('thread-server'), { args: [{}] })) as Pid;
    const r = await eventually(
      () => call<{ ok?: unknown }>(t, { op: 'call', to: 'main-echo', req: 'hi' }),
      (x) => x.ok !== undefined,
      'main-echo from the thread',
    );
    assert.deepEqual(r, { ok: 'main got hi' });
    unregister('main-echo');
    const gone = await eventually(
      () => call<{ threadNames: unknown }>(t, { op: 'self', name: 'main-echo' }),
      (x) => x.threadNames === null,
      'main-echo to be freed in the thread',
    );
    assert.equal(gone.threadNames, null);
    await stopServer(server);
    await killAll(t);
  });

  test('runTask reaches a task pool of another thread by its registered name', async () => {
    const host = (await spawnThread(fixture('thread-pool-host'), { args: ['remote-pool'] })) as Pid;
    await waitFor(() => whereis('remote-pool') !== undefined, 'the pool name in main');
    assert.equal(await runTask('remote-pool', { op: 'add', a: 2, b: 3 }), 5);
    // Task errors keep their code across the thread boundary.
    await assert.rejects(
      runTask('remote-pool', { op: 'throw', message: 'bad task' }),
      (e: { code?: string }) => {
        assert.equal(e.code, 'ERR_TASK_FAILED');
        return true;
      },
    );
    await killAll(host);
    await waitFor(() => whereis('remote-pool') === undefined, 'the pool name to be freed');
    await assert.rejects(
      runTask('remote-pool', { op: 'add', a: 1, b: 1 }),
      (e: { code?: string }) => e.code === 'ERR_NOPROC',
    );
  });
});
