/**
 * An exception thrown by an actor (its body or a gen_server callback, sync or async) never crashes
 * Node: it becomes the process's exit reason {type: 'error', cause} with the original error and its
 * stack. And the exit reason union, matched exhaustively with ts-pattern.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { match, P } from 'ts-pattern';
import {
  awaitExit,
  call,
  defineServer,
  Exit,
  type ExitReason,
  exit,
  formatReason,
  isAlive,
  monitor,
  type Pid,
  send,
  serverChild,
  settle,
  spawn,
  startServer,
  startSupervisor,
  stop,
  terminateChild,
} from '../src/index.js';
import { assertClean, childPid, idle, stopSup } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

// Anything escaping to the process level would show up here (and crash Node without node:test).
const escaped: unknown[] = [];
const onEscape = (e: unknown) => escaped.push(e);
before(() => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
});
after(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});
afterEach(async () => {
  await settle();
  assert.deepEqual(escaped, []);
});

function errorCause(r: ExitReason): unknown {
  assert.equal(r.type, 'error', `expected {error, _}, got ${formatReason(r)}`);
  return (r as { cause: unknown }).cause;
}

describe('exceptions in actors', () => {
  test('a body that throws synchronously exits with {error, cause} and the stack', async () => {
    let thrown: Error | undefined;
    const pid = spawn(function syncThrower() {
      thrown = new Error('sync body failure');
      throw thrown;
    });
    const cause = errorCause(await awaitExit(pid));
    assert.equal(cause, thrown);
    assert.match((cause as Error).stack ?? '', /at syncThrower/);
  });

  test('a body whose promise rejects exits with {error, cause} and the stack', async () => {
    const pid = spawn(async function asyncThrower(ctx) {
      await ctx.receive('go');
      throw new TypeError('async body failure');
    });
    send(pid, 'go');
    const cause = errorCause(await awaitExit(pid)) as Error;
    assert.ok(cause instanceof TypeError);
    assert.equal(cause.message, 'async body failure');
    assert.match(cause.stack ?? '', /at asyncThrower/);
  });

  test('a thrown non-Error value is kept as the cause', async () => {
    const pid = spawn(() => {
      throw { code: 42 };
    });
    assert.deepEqual(await awaitExit(pid), Exit.error({ code: 42 }));
    const pid2 = spawn(async () => Promise.reject('plain string'));
    assert.deepEqual(await awaitExit(pid2), Exit.error('plain string'));
  });

  test('exceptions in gen_server callbacks, sync and async, end the server with {error, cause}', async () => {
    const server = defineServer({
      init: () => null,
      handleCall: async function asyncHandleCall(req: 'boom') {
        await Promise.resolve();
        throw new RangeError(`async ${req}`);
      },
      handleInfo: function syncHandleInfo(msg: unknown) {
        throw new Error(`sync ${String(msg)}`);
      },
    });
    const a = (await startServer(server, [])) as Pid;
    const aGone = awaitExit(a);
    await assert.rejects(call(a, 'boom'), { code: 'ERR_CALL_SERVER_EXITED' });
    const ca = errorCause(await aGone) as Error;
    assert.ok(ca instanceof RangeError);
    assert.match(ca.stack ?? '', /asyncHandleCall \[as handleCall\]/);

    const b = (await startServer(server, [])) as Pid;
    const gone = awaitExit(b);
    send(b, 'info');
    const cb = errorCause(await gone) as Error;
    assert.equal(cb.message, 'sync info');
    assert.match(cb.stack ?? '', /syncHandleInfo/);
  });

  test('a throwing monitor callback does not cut short the exit it observes', async () => {
    const sup = await startSupervisor({
      children: [{ id: 'w', start: async (sctx) => spawn(idle, { link: sctx.parent }) }],
    });
    const w = await childPid(sup, 'w');
    const faulty = new Error('faulty monitor callback');
    monitor(w, () => {
      throw faulty;
    });
    const seen = awaitExit(w);
    // The callback's exception is expected to reach the process as an uncaught exception, which the
    // test runner would count against this file: for this test only, it goes to our recorder alone.
    const runner = process.rawListeners('uncaughtException') as ((e: unknown) => void)[];
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onEscape);
    try {
      // The supervisor stops w: the callback runs inside that exit and must not crash the supervisor.
      await terminateChild(sup, 'w');
      assert.deepEqual(await seen, Exit.shutdown(), 'a later monitor of the same exit was skipped');
      await settle();
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of runner) process.on('uncaughtException', l);
    }
    assert.equal(isAlive(sup), true);
    // Not swallowed either: it was raised on its own.
    assert.deepEqual(escaped.splice(0), [faulty]);
    await stopSup(sup);
  });

  test('a crashing supervised child is restarted and nothing escapes', async () => {
    const sup = await startSupervisor({
      flags: { intensity: 100 },
      children: [{ id: 'w', start: async (sctx) => spawn(idle, { link: sctx.parent }) }],
    });
    for (let i = 0; i < 20; i++) {
      const w = await childPid(sup, 'w');
      exit(w, Exit.error(new Error(`crash ${i}`)));
      await settle();
    }
    await stopSup(sup);
  });
});

describe('exit reasons', () => {
  /** Exhaustive: adding a variant to ExitReason without handling it here fails to compile. */
  const describeReason = (r: ExitReason): string =>
    match(r)
      .with({ type: 'normal' }, () => 'normal')
      .with({ type: 'shutdown', detail: P.optional(undefined) }, () => 'shutdown')
      .with({ type: 'shutdown' }, (s) => `{shutdown, ${JSON.stringify(s.detail)}}`)
      .with({ type: 'killed' }, () => 'killed')
      .with({ type: 'noproc' }, () => 'noproc')
      .with({ type: 'error', cause: P.instanceOf(Error) }, (e) => `{error, ${(e.cause as Error).message}}`)
      .with({ type: 'error' }, (e) => `{error, ${String(e.cause)}}`)
      .exhaustive();

  test('every exit reason, produced by a real process, matched exhaustively', async () => {
    const seen: string[] = [];
    // normal: the body returned.
    seen.push(describeReason(await awaitExit(spawn(() => undefined))));
    // shutdown: a supervisor stopped its child.
    const sup = await startSupervisor({
      children: [{ id: 's', start: serverChild(defineServer({ init: () => null })) }],
    });
    const child = await childPid(sup, 's');
    const childGone = awaitExit(child);
    await stopSup(sup);
    seen.push(describeReason(await childGone));
    // {shutdown, detail}: a gen_server stopped itself.
    const srv = (await startServer(
      defineServer({
        init: () => null,
        handleCall: (_r: 'x', _f, s) => stop(Exit.shutdown({ why: 'done' }), s, { value: 1 }),
      }),
      [],
    )) as Pid;
    const srvGone = awaitExit(srv);
    assert.equal(await call(srv, 'x'), 1);
    seen.push(describeReason(await srvGone));
    // killed: the untrappable kill.
    const victim = spawn(idle, { trapExit: true });
    const victimGone = awaitExit(victim);
    exit(victim, 'kill');
    seen.push(describeReason(await victimGone));
    // noproc: asking about a process that is not there.
    seen.push(describeReason(await awaitExit(victim)));
    // {error, cause}: an exception.
    seen.push(
      describeReason(
        await awaitExit(
          spawn(() => {
            throw new Error('bang');
          }),
        ),
      ),
    );
    assert.deepEqual(seen, [
      'normal',
      'shutdown',
      '{shutdown, {"why":"done"}}',
      'killed',
      'noproc',
      '{error, bang}',
    ]);
  });
});
