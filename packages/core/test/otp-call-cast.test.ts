/**
 * OTP statements 31-35: call, cast and registered names. Time-outs run on a SimulatedClock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  type CallError,
  type CallFrom,
  type CallMessage,
  call,
  cast,
  currentNode,
  DEFAULT_CALL_TIMEOUT_MS,
  defineServer,
  Exit,
  exit,
  NameTakenError,
  noreply,
  type Pid,
  register,
  reply,
  SimulatedClock,
  settle,
  spawn,
  startServer,
  stop,
  whereis,
} from '../src/index.js';
import { assertClean, deferred, drain, kill, puppet, run, settledFlag } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

const boom = new Error('boom');

/** A process that takes calls and never answers them; it hands each caller's `from` to `froms`. */
function silentServer(froms: CallFrom[]): Pid {
  return spawn(async (ctx) => {
    for (;;) froms.push(((await ctx.receive({ type: '$call' })) as CallMessage).from);
  });
}

const isCallError = (reason: unknown, code: string) => (e: CallError) => {
  assert.equal(e.code, code);
  assert.deepEqual(e.reason, reason);
  return true;
};

describe('call and cast', () => {
  test('S31: call has a default time-out of 5000 ms', async () => {
    assert.equal(DEFAULT_CALL_TIMEOUT_MS, 5000);
    const clock = new SimulatedClock();
    const froms: CallFrom[] = [];
    const server = silentServer(froms);
    const outside = call(server, 'hello', { clock });
    const outsideState = settledFlag(outside);
    // The same default from inside an actor, which uses its own clock.
    const caller = puppet({ clock });
    const inside = run(caller, (ctx) =>
      ctx.call(server, 'from actor').then(
        () => 'replied',
        (e: CallError) => e.reason,
      ),
    );
    await clock.advance(4999);
    assert.equal(outsideState.done, false, 'the call timed out before 5000 ms');
    assert.equal(froms.length, 2);
    await clock.advance(1);
    await assert.rejects(outside, isCallError('timeout', 'ERR_CALL_TIMEOUT'));
    assert.equal(await inside, 'timeout');
    await kill(server, caller);
  });

  test('S31: the caller fails with the server exit reason when the server dies', async () => {
    const froms: CallFrom[] = [];
    const server = silentServer(froms);
    const pending = call(server, 'x');
    await settle();
    assert.equal(froms.length, 1);
    exit(server, Exit.error(boom));
    await assert.rejects(pending, (e: CallError) => {
      assert.equal(e.code, 'ERR_CALL_SERVER_EXITED');
      assert.deepEqual(e.reason, Exit.error(boom));
      assert.equal(e.cause, boom);
      return true;
    });
    // The same for a server killed while it holds the call.
    const s2 = silentServer(froms);
    const p2 = call(s2, 'y');
    await settle();
    exit(s2, 'kill');
    await assert.rejects(p2, isCallError(Exit.killed, 'ERR_CALL_SERVER_EXITED'));
  });

  test('S31: a call to an unknown name fails with noproc, a call to itself with calling_self', async () => {
    await assert.rejects(call('nobody-here', 'x'), isCallError('noproc', 'ERR_NOPROC'));
    const p = puppet({ name: 'me' });
    const r = await run(p, async (ctx) => {
      const out: unknown[] = [];
      for (const target of [ctx.self, 'me']) {
        await ctx.call(target, 'x').catch((e: CallError) => out.push([e.code, e.reason]));
      }
      return out;
    });
    assert.deepEqual(r, [
      ['ERR_CALLING_SELF', 'calling_self'],
      ['ERR_CALLING_SELF', 'calling_self'],
    ]);
    await kill(p);
  });

  test('S32: a reply that arrives after the time-out is dropped, never delivered as a message', async () => {
    const clock = new SimulatedClock();
    const froms: CallFrom[] = [];
    const server = silentServer(froms);
    const caller = puppet({ clock });
    const outcome = run(caller, (ctx) => ctx.call(server, 'slow', 100).catch((e: CallError) => e.reason));
    await clock.advance(100);
    assert.equal(await outcome, 'timeout');
    // The server answers late: the caller must not find the reply in its mailbox.
    const node = currentNode();
    assert.equal(froms.length, 1);
    node.reply(froms[0]!, 'late answer');
    await settle();
    assert.deepEqual(await drain(caller), []);
    // And a late reply to code outside any actor is dropped as well (nothing rejects twice or leaks).
    const outside = call(server, 'slow', { timeoutMs: 50, clock }).catch((e: CallError) => e.reason);
    await clock.advance(50);
    assert.equal(await outside, 'timeout');
    node.reply(froms[1]!, 'late');
    assert.equal(node.calls.size, 0);
    await kill(server, caller);
  });

  test('S33: if the server stops without replying, the caller fails with the stop reason', async () => {
    const terminated = deferred<unknown>();
    const server = await startServer(
      defineServer({
        init: () => ({}),
        handleCall: (req: string, _from, s) => (req === 'quit' ? stop(Exit.shutdown('bye'), s) : noreply(s)),
        terminate: (reason) => terminated.resolve(reason),
      }),
      [],
    );
    assert.equal(typeof server, 'string');
    const gone = awaitExit(server as Pid);
    await assert.rejects(
      call(server as Pid, 'quit'),
      isCallError(Exit.shutdown('bye'), 'ERR_CALL_SERVER_EXITED'),
    );
    assert.deepEqual(await terminated.promise, Exit.shutdown('bye'));
    assert.deepEqual(await gone, Exit.shutdown('bye'));
  });

  test('S33: a call pending while the server stops for another request fails with that reason', async () => {
    const froms: CallFrom[] = [];
    const server = await startServer(
      defineServer({
        init: () => ({}),
        handleCall: (req: string, from, s) => {
          froms.push(from);
          return req === 'quit' ? stop(Exit.error(boom), s) : noreply(s);
        },
      }),
      [],
    );
    const first = call(server as Pid, 'wait');
    const second = call(server as Pid, 'quit');
    await assert.rejects(first, isCallError(Exit.error(boom), 'ERR_CALL_SERVER_EXITED'));
    await assert.rejects(second, isCallError(Exit.error(boom), 'ERR_CALL_SERVER_EXITED'));
    assert.equal(froms.length, 2);
  });

  test('S34: cast returns at once, even when the target does not exist', async () => {
    const dead = spawn(() => undefined);
    await awaitExit(dead);
    assert.equal(cast('nobody-here', 'x'), undefined);
    assert.equal(cast(dead, 'x'), undefined);
    // At once: the cast is queued before the server has run any of it.
    const handled: string[] = [];
    const server = (await startServer(
      defineServer({
        init: () => 0,
        handleCast: async (msg: string, n) => {
          handled.push(msg);
          return noreply(n + 1);
        },
        handleCall: (_r: 'count', _f, n) => reply(n, n),
      }),
      [],
    )) as Pid;
    assert.equal(cast(server, 'a'), undefined);
    assert.deepEqual(handled, []);
    assert.equal(await call(server, 'count'), 1);
    assert.deepEqual(handled, ['a']);
    // From inside an actor too.
    const p = puppet();
    await run(p, (ctx) => {
      ctx.cast('nobody-here', 'x');
      ctx.cast(dead, 'x');
      ctx.cast(server, 'b');
    });
    assert.equal(await call(server, 'count'), 2);
    await kill(p, server);
  });

  test('S35: a name is freed when its process exits', async () => {
    const p = puppet({ name: 'registered' });
    assert.equal(whereis('registered'), p);
    await kill(p);
    assert.equal(whereis('registered'), undefined);
    const q = puppet();
    register('registered', q);
    assert.equal(whereis('registered'), q);
    const gone = awaitExit(q);
    exit(q, Exit.error(boom));
    await gone;
    assert.equal(whereis('registered'), undefined);
  });

  test('S35: starting a server under a taken name fails with {already_started, pid}', async () => {
    const b = defineServer({ init: () => ({}) });
    const first = (await startServer(b, [], { name: 'unique' })) as Pid;
    await assert.rejects(startServer(b, [], { name: 'unique' }), (e: NameTakenError) => {
      assert.ok(e instanceof NameTakenError);
      assert.equal(e.code, 'ERR_NAME_TAKEN');
      assert.equal(e.pid, first);
      assert.match(e.message, /already_started/);
      return true;
    });
    // The failed start left nothing behind; once the first is gone the name can be taken again.
    await kill(first);
    const again = (await startServer(b, [], { name: 'unique' })) as Pid;
    assert.equal(whereis('unique'), again);
    await kill(again);
  });
});
