/**
 * Each way a thread actor's thread can end, and the precise reason that the processes linked to it
 * or monitoring it see, in the main thread and in other threads.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { awaitExit, call, exit, monitor } from '../src/actor.js';
import type { CallError } from '../src/call-table.js';
import { Exit, type ExitReason } from '../src/exit-reason.js';
import { currentNode } from '../src/node.js';
import { nodeOf, type Pid } from '../src/pid.js';
import { ThreadExitError, ThreadOutOfMemoryError, ThreadUncaughtError } from '../src/thread/errors.js';
import { spawnThread } from '../src/thread/thread-actor.js';
import { collector, fixture, isDown, isExit, noThreadsLeft, pollCall } from './fixtures/thread-helpers.js';

const SERVER = fixture('thread-server');

afterEach(noThreadsLeft);

/** A thread actor with a trapping linked main actor and a monitor, plus an in-thread helper process. */
async function watched(args: unknown[] = [{}], opts: object = {}) {
  const linked = collector({ trapExit: true });
  const pid = (await spawnThread(SERVER, { args, link: linked.pid, ...opts })) as Pid;
  const helper = (await call(pid, { op: 'spawnLocal' })) as Pid;
  const down = awaitExit(pid);
  const helperDown = awaitExit(helper);
  return {
    pid,
    linked,
    /** The reason as seen by the link, the monitor, and the monitor of the other in-thread process. */
    async reasons(): Promise<{ link: ExitReason; down: ExitReason; helper: ExitReason }> {
      const ex = await linked.next(isExit(pid), 'EXIT from the root');
      const r = { link: ex.reason as ExitReason, down: await down, helper: await helperDown };
      await linked.stop();
      return r;
    },
  };
}

function causeOf(r: ExitReason): Error & { code?: string; details?: Record<string, unknown> } {
  assert.equal(r.type, 'error', `expected {error, _}, got ${JSON.stringify(r)}`);
  return (r as { cause: Error }).cause;
}

describe('thread actors: failure reasons', () => {
  test('an uncaught exception in a timer: {error, ThreadUncaughtError} with the original error', async () => {
    const w = await watched();
    await call(w.pid, { op: 'uncaught', msg: 'timer went wrong' });
    const { link, down, helper } = await w.reasons();
    const cause = causeOf(link);
    assert.ok(cause instanceof ThreadUncaughtError);
    assert.equal(cause.code, 'ERR_THREAD_UNCAUGHT');
    const original = cause.cause as Error;
    assert.equal(original.name, 'TypeError');
    assert.equal(original.message, 'timer went wrong');
    assert.match(original.stack ?? '', /thread-server\.js/);
    assert.equal(down, link, 'the monitor sees the same reason');
    assert.equal(helper, link, 'the other processes of the thread go down with it (nodedown)');
  });

  test('an unhandled promise rejection is an uncaught exception too', async () => {
    const w = await watched();
    await call(w.pid, { op: 'reject', msg: 'nobody awaited me' });
    const { link } = await w.reasons();
    const cause = causeOf(link);
    assert.equal(cause.code, 'ERR_THREAD_UNCAUGHT');
    assert.equal((cause.cause as Error).message, 'nobody awaited me');
  });

  test('process.exit(n) in the thread: {error, ThreadExitError} with the exit code', async () => {
    const w = await watched();
    await call(w.pid, { op: 'processExit', code: 3 });
    const { link, helper } = await w.reasons();
    const cause = causeOf(link);
    assert.ok(cause instanceof ThreadExitError);
    assert.equal(cause.code, 'ERR_THREAD_EXIT');
    assert.equal(cause.details?.exitCode, 3);
    assert.equal(helper, link);
  });

  test('going over resourceLimits: {error, ThreadOutOfMemoryError}', async () => {
    const w = await watched([{}], {
      resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 },
    });
    await call(w.pid, { op: 'oom' });
    const { link, down } = await w.reasons();
    const cause = causeOf(link);
    assert.ok(cause instanceof ThreadOutOfMemoryError);
    assert.equal(cause.code, 'ERR_THREAD_OUT_OF_MEMORY');
    assert.equal((cause.cause as { code?: string }).code, 'ERR_WORKER_OUT_OF_MEMORY');
    assert.equal(down, link);
  });

  test('exit(root, kill) terminates a thread stuck in a CPU loop: killed', async () => {
    const w = await watched();
    const notify = collector();
    await call(w.pid, { op: 'spin', notify: notify.pid });
    await notify.next((m) => m === 'spinning');
    await notify.stop();
    // The thread no longer reads its messages; only terminating it can stop it.
    await assert.rejects(call(w.pid, { op: 'get' }, 50), { code: 'ERR_CALL_TIMEOUT' });
    exit(w.pid, 'kill');
    const { link, down, helper } = await w.reasons();
    assert.deepEqual(link, Exit.killed);
    assert.deepEqual(down, Exit.killed);
    assert.deepEqual(helper, Exit.killed);
  });

  test('exit(root, kill) sent from another thread also terminates a stuck thread', async () => {
    const w = await watched();
    const killer = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const notify = collector();
    await call(w.pid, { op: 'spin', notify: notify.pid });
    await notify.next((m) => m === 'spinning');
    await call(killer, { op: 'exit', pid: w.pid, signal: 'kill' });
    const { link, helper } = await w.reasons();
    assert.deepEqual(link, Exit.killed);
    assert.deepEqual(helper, Exit.killed);
    const d = awaitExit(killer);
    exit(killer, 'kill');
    await d;
    await notify.stop();
  });

  test('exit(root, shutdown) from its parent to a trapping gen_server runs its terminate callback', async () => {
    const notify = collector();
    const w = await watched([{ trap: true, notify: notify.pid }]);
    // As a supervisor does: the parent (the linked process) sends the shutdown.
    currentNode().exit(w.linked.pid, w.pid, Exit.shutdown());
    const t = await notify.next((m) => m.terminated === w.pid, 'terminate notification');
    assert.deepEqual(t.reason, Exit.shutdown());
    const { link, helper } = await w.reasons();
    assert.deepEqual(link, Exit.shutdown());
    assert.deepEqual(helper, Exit.killed, 'the rest of the thread is killed when the root has gone');
    await notify.stop();
  });

  test('an exception in a callback ends only the actor, with {error, cause} and its stack', async () => {
    const bystander = (await spawnThread(SERVER, { args: [{ count: 1 }] })) as Pid;
    const w = await watched();
    await assert.rejects(call(w.pid, { op: 'throw', msg: 'bad request' }), (e: CallError) => {
      assert.equal(e.code, 'ERR_CALL_SERVER_EXITED');
      return true;
    });
    const { link } = await w.reasons();
    const cause = causeOf(link);
    assert.equal(cause.name, 'SyntaxError');
    assert.equal(cause.message, 'bad request');
    assert.match(cause.stack ?? '', /handleCall/);
    assert.equal(await call(bystander, { op: 'get' }), 1, 'another thread actor is unaffected');
    const d = awaitExit(bystander);
    exit(bystander, 'kill');
    await d;
  });

  test('a call pending when the thread dies fails with the thread reason', async () => {
    const pid = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const err = (await call(pid, { op: 'crashLater' }).then(
      () => assert.fail('no reply was expected'),
      (e: unknown) => e,
    )) as CallError;
    assert.equal(err.code, 'ERR_CALL_SERVER_EXITED');
    const reason = err.reason as ExitReason;
    assert.equal(causeOf(reason).code, 'ERR_THREAD_UNCAUGHT');
    assert.equal((causeOf(reason).cause as Error).message, 'crashed while a call was pending');
  });

  test('another thread watching the dead thread gets DOWN and EXIT with the reason (nodedown)', async () => {
    const observer = (await spawnThread(SERVER, { args: [{ trap: true }] })) as Pid;
    const victim = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const helper = (await call(victim, { op: 'spawnLocal' })) as Pid;
    const ref = await call(observer, { op: 'monitor', pid: victim });
    await call(observer, { op: 'link', pid: helper });
    const calls = [observer, victim].map((p) => nodeOf(p));
    assert.notEqual(calls[0], calls[1]);
    await call(victim, { op: 'processExit', code: 9 });
    const infos = await pollCall<any[]>(observer, { op: 'infos' }, (x) => x.length >= 2, 'DOWN and EXIT');
    const down = infos.find(isDown(victim));
    assert.equal(down.ref, ref);
    assert.equal(down.reason.type, 'error');
    assert.equal(
      down.reason.cause.code,
      'ERR_THREAD_EXIT',
      'the error class arrives as a TrellisError with its code',
    );
    assert.equal(down.reason.cause.details.exitCode, 9);
    const ex = infos.find(isExit(helper));
    assert.equal(ex.reason.cause.code, 'ERR_THREAD_EXIT');
    const d = awaitExit(observer);
    exit(observer, 'kill');
    await d;
  });

  test('a thread killed from outside while the main thread monitors it: the callback fires once', async () => {
    const pid = (await spawnThread(SERVER, { args: [{}] })) as Pid;
    const seen: ExitReason[] = [];
    monitor(pid, (r) => seen.push(r));
    const d = awaitExit(pid);
    exit(pid, 'kill');
    assert.deepEqual(await d, Exit.killed);
    await noThreadsLeft();
    assert.deepEqual(seen, [Exit.killed]);
  });
});
