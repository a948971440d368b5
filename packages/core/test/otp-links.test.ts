/**
 * OTP statements 22-28: links and exit signals, checked on real processes of this node.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  Exit,
  type ExitMessage,
  exit,
  isAlive,
  type Pid,
  send,
  settle,
  spawn,
  TrellisError,
} from '../src/index.js';
import { assertClean, drain, kill, puppet, run } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

const boom = new Error('boom');

describe('links and exit signals', () => {
  test('S22: links are bidirectional and there is at most one per pair', async () => {
    const a = puppet();
    const b = puppet();
    await run(a, (ctx) => ctx.link(b));
    // b's end of the link exists too: b dying takes a with it, and the other way round.
    const aGone = awaitExit(a);
    exit(b, Exit.error(boom));
    assert.deepEqual(await aGone, Exit.error(boom));

    const c = puppet();
    const d = puppet();
    await run(c, (ctx) => ctx.link(d));
    const dGone = awaitExit(d);
    exit(c, Exit.error(boom));
    assert.deepEqual(await dGone, Exit.error(boom));
  });

  test('S22: linking twice changes nothing: one unlink removes the link', async () => {
    const a = puppet();
    const b = puppet();
    await run(a, (ctx) => {
      ctx.link(b);
      ctx.link(b);
      ctx.unlink(b);
    });
    const bGone = awaitExit(b);
    exit(b, Exit.error(boom));
    await bGone;
    await settle();
    assert.equal(isAlive(a), true, 'a second link would have taken a down');
    await kill(a);
  });

  test('S22: either side may unlink', async () => {
    const a = puppet();
    const b = puppet();
    await run(a, (ctx) => ctx.link(b));
    // The side that did not create the link removes it.
    await run(b, (ctx) => ctx.unlink(a));
    const aGone = awaitExit(a);
    exit(a, Exit.error(boom));
    await aGone;
    await settle();
    assert.equal(isAlive(b), true);
    await kill(b);
  });

  test('S23: a dying process sends its reason to every link; non-trapping receivers die with it', async () => {
    const x = puppet();
    const a = puppet();
    const b = puppet();
    await run(a, (ctx) => ctx.link(x));
    await run(b, (ctx) => ctx.link(x));
    const gone = [awaitExit(a), awaitExit(b)];
    exit(x, Exit.error(boom));
    assert.deepEqual(await Promise.all(gone), [Exit.error(boom), Exit.error(boom)]);

    // Every reason other than normal is fatal, {shutdown, detail} included.
    const y = puppet();
    const c = puppet();
    await run(c, (ctx) => ctx.link(y));
    const cGone = awaitExit(c);
    exit(y, Exit.shutdown('maintenance'));
    assert.deepEqual(await cGone, Exit.shutdown('maintenance'));
  });

  test('S23: a non-trapping receiver ignores a normal exit of a linked process', async () => {
    const a = puppet();
    // x ends its body normally.
    const x = spawn(async (ctx) => {
      await ctx.receive('go');
    });
    await run(a, (ctx) => ctx.link(x));
    const xGone = awaitExit(x);
    send(x, 'go');
    assert.deepEqual(await xGone, Exit.normal);
    await settle();
    assert.equal(isAlive(a), true);
    await kill(a);
  });

  test('S24: a trapping receiver gets an EXIT message instead, also for normal', async () => {
    const t = puppet({ trapExit: true });
    const x = spawn(async (ctx) => {
      await ctx.receive('go');
    });
    const y = puppet();
    await run(t, (ctx) => {
      ctx.link(x);
      ctx.link(y);
    });
    const xGone = awaitExit(x);
    send(x, 'go');
    await xGone;
    const yGone = awaitExit(y);
    exit(y, Exit.error(boom));
    await yGone;
    assert.equal(isAlive(t), true);
    assert.deepEqual(await drain(t), [
      { type: 'EXIT', from: x, reason: Exit.normal },
      { type: 'EXIT', from: y, reason: Exit.error(boom) },
    ] satisfies ExitMessage[]);
    await kill(t);
  });

  test('S25: exit(p, kill) cannot be trapped; p dies with killed and its links see killed', async () => {
    const p = puppet({ trapExit: true });
    const plain = puppet();
    const trapping = puppet({ trapExit: true });
    await run(plain, (ctx) => ctx.link(p));
    await run(trapping, (ctx) => ctx.link(p));
    const pGone = awaitExit(p);
    const plainGone = awaitExit(plain);
    exit(p, 'kill');
    assert.deepEqual(await pGone, Exit.killed);
    // `kill` turns into `killed` on the way out: a linked process dies with killed, not with kill.
    assert.deepEqual(await plainGone, Exit.killed);
    assert.deepEqual(await drain(trapping), [{ type: 'EXIT', from: p, reason: Exit.killed }]);
    await kill(trapping);
  });

  test('S26: exit(p, normal) sent to another non-trapping process does nothing', async () => {
    const p = puppet();
    const sender = puppet();
    await run(sender, (ctx) => ctx.exit(p, Exit.normal));
    exit(p, Exit.normal);
    await settle();
    assert.equal(isAlive(p), true);
    // A trapping process receives it as a message; a process that sends it to itself ends normally.
    const t = puppet({ trapExit: true });
    await run(sender, (ctx) => ctx.exit(t, Exit.normal));
    assert.deepEqual(await drain(t), [{ type: 'EXIT', from: sender, reason: Exit.normal }]);
    const selfExit = spawn((ctx) => ctx.exit(ctx.self, Exit.normal));
    assert.deepEqual(await awaitExit(selfExit), Exit.normal);
    await kill(p, sender, t);
  });

  test('S27: linking to a dead process raises noproc in a non-trapping caller', async () => {
    const dead = spawn(() => undefined);
    await awaitExit(dead);
    const a = puppet();
    const err = await run(a, (ctx) => {
      try {
        ctx.link(dead);
        return undefined;
      } catch (e) {
        return e;
      }
    });
    assert.ok(err instanceof TrellisError);
    assert.equal(err.code, 'ERR_NOPROC');
    assert.match(err.message, new RegExp(dead.replace(/[<>.]/g, '\\$&')));
    // Uncaught, the exception ends the caller with {error, noproc exception}.
    const b = puppet();
    const bGone = awaitExit(b);
    await assert.rejects(
      run(b, (ctx) => ctx.link(dead)),
      (e: TrellisError & { reason?: unknown }) => e.code === 'ERR_CALL_SERVER_EXITED',
    );
    const r = await bGone;
    assert.equal(r.type, 'error');
    assert.equal((r as { cause: TrellisError }).cause.code, 'ERR_NOPROC');
    await kill(a);
  });

  test('S27: linking to a dead process gives a trapping caller an EXIT with noproc', async () => {
    const dead = spawn(() => undefined);
    await awaitExit(dead);
    const t = puppet({ trapExit: true });
    await run(t, (ctx) => ctx.link(dead));
    assert.deepEqual(await drain(t), [{ type: 'EXIT', from: dead, reason: Exit.noproc }]);
    await kill(t);
  });

  test('S27: spawning a process linked to a dead pid gives it the noproc signal', async () => {
    const dead = spawn(() => undefined);
    await awaitExit(dead);
    let ran = false;
    const p = spawn(
      () => {
        ran = true;
      },
      { link: dead },
    );
    assert.deepEqual(await awaitExit(p), Exit.noproc);
    assert.equal(ran, false, 'a process killed by the noproc signal must not run its body');
    const t = puppet({ trapExit: true, link: dead });
    assert.deepEqual(await drain(t), [{ type: 'EXIT', from: dead, reason: Exit.noproc }]);
    await kill(t);
  });

  test('S28: signals from one sender to one receiver arrive in the order sent', async () => {
    const receiver = puppet({ trapExit: true });
    const sender = puppet();
    await run(sender, (ctx) => {
      for (let i = 0; i < 50; i++) ctx.send(receiver, i);
      ctx.exit(receiver, Exit.shutdown('between'));
      for (let i = 50; i < 100; i++) ctx.send(receiver, i);
      ctx.exit(receiver, Exit.normal);
    });
    const expected: unknown[] = [];
    for (let i = 0; i < 50; i++) expected.push(i);
    expected.push({ type: 'EXIT', from: sender, reason: Exit.shutdown('between') });
    for (let i = 50; i < 100; i++) expected.push(i);
    expected.push({ type: 'EXIT', from: sender, reason: Exit.normal });
    assert.deepEqual(await drain(receiver), expected);
    await kill(receiver, sender);
  });

  test('S28: a link EXIT follows the messages its sender sent before dying', async () => {
    const receiver = puppet({ trapExit: true });
    const sender: Pid = spawn(async (ctx) => {
      ctx.link(receiver);
      ctx.send(receiver, 'first');
      ctx.send(receiver, 'second');
      throw boom;
    });
    await awaitExit(sender);
    assert.deepEqual(await drain(receiver), [
      'first',
      'second',
      { type: 'EXIT', from: sender, reason: Exit.error(boom) },
    ]);
    await kill(receiver);
  });
});
