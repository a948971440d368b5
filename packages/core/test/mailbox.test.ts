/**
 * The mailbox and receive: arrival order, selective receive with ts-pattern patterns and with
 * predicates, receive time-outs (on a SimulatedClock), and typed messages.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { P } from 'ts-pattern';
import {
  type ActorContext,
  awaitExit,
  ConcurrentReceiveError,
  Exit,
  Mailbox,
  NO_MESSAGE,
  SimulatedClock,
  send,
  settle,
  spawn,
  TIMEOUT,
} from '../src/index.js';
import { assertClean, deferred, drain, kill, puppet, run, settledFlag } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

describe('Mailbox', () => {
  test('take returns messages in arrival order and NO_MESSAGE when empty', () => {
    const mb = new Mailbox();
    assert.equal(mb.take(), NO_MESSAGE);
    for (let i = 0; i < 5; i++) mb.push(i);
    assert.equal(mb.size, 5);
    assert.deepEqual([mb.take(), mb.take(), mb.take()], [0, 1, 2]);
    assert.equal(mb.size, 2);
  });

  test('take with a predicate removes the first match and leaves earlier messages in place', () => {
    const mb = new Mailbox();
    for (const m of ['a1', 'b1', 'a2', 'b2']) mb.push(m);
    assert.equal(
      mb.take((m) => String(m).startsWith('b')),
      'b1',
    );
    assert.equal(
      mb.take((m) => m === 'zzz'),
      NO_MESSAGE,
    );
    assert.deepEqual([mb.take(), mb.take(), mb.take(), mb.take()], ['a1', 'a2', 'b2', NO_MESSAGE]);
  });

  test('order survives long runs of takes and selective takes (compaction)', () => {
    const mb = new Mailbox();
    for (let i = 0; i < 5000; i++) mb.push(i);
    for (let i = 0; i < 3000; i++) assert.equal(mb.take(), i);
    assert.equal(
      mb.take((m) => m === 4999),
      4999,
    );
    assert.equal(
      mb.remove((m) => (m as number) % 2 === 0),
      1000,
    );
    const rest: unknown[] = [];
    for (let m = mb.take(); m !== NO_MESSAGE; m = mb.take()) rest.push(m);
    assert.equal(rest.length, 999);
    assert.equal(rest[0], 3001);
    assert.equal(rest.at(-1), 4997);
    for (let i = 1; i < rest.length; i++) assert.ok((rest[i] as number) > (rest[i - 1] as number));
  });
});

describe('receive', () => {
  test('selective receive with a ts-pattern pattern skips and keeps non-matching messages', async () => {
    const got = deferred<unknown[]>();
    const pid = spawn(async (ctx) => {
      const first = await ctx.receive({ kind: 'reply', n: P.number.gte(2) });
      const second = await ctx.receive({ kind: P.union('ping', 'pong') });
      const rest: unknown[] = [];
      for (let m = ctx.tryReceive(); m !== NO_MESSAGE; m = ctx.tryReceive()) rest.push(m);
      got.resolve([first, second, rest]);
    });
    send(pid, { kind: 'reply', n: 1 });
    send(pid, { kind: 'other' });
    send(pid, { kind: 'pong', x: 1 });
    send(pid, { kind: 'reply', n: 2 });
    send(pid, 'text');
    assert.deepEqual(await got.promise, [
      { kind: 'reply', n: 2 },
      { kind: 'pong', x: 1 },
      [{ kind: 'reply', n: 1 }, { kind: 'other' }, 'text'],
    ]);
    assert.deepEqual(await awaitExit(pid), Exit.normal);
  });

  test('a receive waiting for a pattern wakes only for a matching message', async () => {
    const p = puppet();
    const waiting = run(p, (ctx) => ctx.receive({ type: 'wanted', id: P.string }));
    const state = settledFlag(waiting);
    send(p, { type: 'wanted', id: 42 });
    send(p, { type: 'unwanted' });
    await settle();
    assert.equal(state.done, false);
    send(p, { type: 'wanted', id: 'yes' });
    assert.deepEqual(await waiting, { type: 'wanted', id: 'yes' });
    assert.deepEqual(await drain(p), [{ type: 'wanted', id: 42 }, { type: 'unwanted' }]);
    await kill(p);
  });

  test('selective receive with a predicate', async () => {
    const p = puppet();
    for (const n of [1, 3, 4, 6]) send(p, n);
    const even = await run(p, (ctx) => ctx.receive((m) => typeof m === 'number' && m % 2 === 0));
    assert.equal(even, 4);
    // Plain values are matched structurally, like a pattern.
    send(p, { a: [1, 2] });
    assert.deepEqual(await run(p, (ctx) => ctx.receive({ a: [1, 2] })), { a: [1, 2] });
    assert.deepEqual(await drain(p), [1, 3, 6]);
    await kill(p);
  });

  test('receive with a time-out returns TIMEOUT when nothing matching arrives in time', async () => {
    const clock = new SimulatedClock();
    const p = puppet({ clock });
    const r = run(p, (ctx) => ctx.receive('never', 100));
    const state = settledFlag(r);
    send(p, 'something else');
    await clock.advance(99);
    assert.equal(state.done, false);
    await clock.advance(1);
    assert.equal(await r, TIMEOUT);
    // The time-out did not consume anything.
    assert.deepEqual(await drain(p), ['something else']);
    await kill(p);
  });

  test('a matching message before the time-out wins and cancels the timer', async () => {
    const clock = new SimulatedClock();
    const p = puppet({ clock });
    const r = run(p, (ctx) => ctx.receive({ ok: true }, 100));
    await clock.advance(50);
    assert.equal(clock.pending, 1);
    send(p, { ok: true });
    assert.deepEqual(await r, { ok: true });
    assert.equal(clock.pending, 0);
    await kill(p);
  });

  test('a zero time-out polls: the queued match, or TIMEOUT at once', async () => {
    const p = puppet();
    assert.equal(await run(p, (ctx) => ctx.receive(undefined, 0)), TIMEOUT);
    send(p, 'here');
    assert.equal(await run(p, (ctx) => ctx.receive(undefined, 0)), 'here');
    assert.equal(await run(p, (ctx) => ctx.tryReceive()), NO_MESSAGE);
    await kill(p);
  });

  test('a second receive while one is pending is refused', async () => {
    const p = puppet();
    const err = await run(p, async (ctx) => {
      const first = ctx.receive('x');
      const second = await ctx.receive('y').catch((e: unknown) => e);
      send(ctx.self, 'x');
      await first;
      return second;
    });
    assert.ok(err instanceof ConcurrentReceiveError);
    assert.equal(err.code, 'ERR_CONCURRENT_RECEIVE');
    await kill(p);
  });

  test('a predicate that throws crashes its own process, not the sender', async () => {
    const bad = new Error('bad predicate');
    const pid = spawn(async (ctx) => {
      await ctx.receive((m) => {
        if (m === 'poison') throw bad;
        return false;
      });
    });
    await settle();
    // The sender is code outside any actor: it must not see the receiver's exception.
    assert.doesNotThrow(() => send(pid, 'poison'));
    assert.deepEqual(await awaitExit(pid), Exit.error(bad));
  });

  test('a killed process waiting in receive unwinds', async () => {
    let after = false;
    const pid = spawn(async (ctx) => {
      await ctx.receive();
      after = true;
    });
    await settle();
    await kill(pid);
    await settle();
    assert.equal(after, false);
  });

  test('messages are typed by the context', async () => {
    type Msg = { kind: 'add'; n: number } | { kind: 'get'; reply: (n: number) => void };
    const total = deferred<number>();
    const body = async (ctx: ActorContext<Msg>) => {
      let sum = 0;
      for (;;) {
        const m = await ctx.receive();
        if (m.kind === 'add') sum += m.n;
        else {
          // @ts-expect-error: a Msg of kind 'get' has no n
          void m.n;
          m.reply(sum);
          return;
        }
      }
    };
    const pid = spawn<Msg>(body);
    send(pid, { kind: 'add', n: 2 });
    send(pid, { kind: 'add', n: 40 });
    send(pid, { kind: 'get', reply: total.resolve });
    assert.equal(await total.promise, 42);
    assert.deepEqual(await awaitExit(pid), Exit.normal);
  });
});
