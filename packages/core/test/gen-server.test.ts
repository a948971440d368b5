/**
 * The gen_server behaviour: init, handleCall, handleCast, handleInfo, terminate; start results; typed
 * callbacks; exceptions in callbacks.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  type CallError,
  type CallFrom,
  call,
  cast,
  defineServer,
  Exit,
  type ExitReason,
  exit,
  IGNORE,
  InitFailedError,
  ignore,
  isAlive,
  noreply,
  type Pid,
  reply,
  send,
  settle,
  spawn,
  startServer,
  stop,
  whereis,
} from '../src/index.js';
import { assertClean, deferred, kill, puppet, run, settledFlag } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

type Req = { op: 'get' } | { op: 'add'; n: number } | { op: 'later' } | { op: 'quit' };
type Cast = { op: 'inc' } | { op: 'crash'; async: boolean };

/** A counter whose callbacks record what they saw. */
function counter(events: unknown[]) {
  const pending: CallFrom[] = [];
  return defineServer({
    init(ctx, start: number, opts: { trap?: boolean } = {}) {
      if (opts.trap) ctx.trapExit(true);
      events.push(['init', start]);
      return { n: start };
    },
    handleCall(req: Req, from, s, ctx) {
      switch (req.op) {
        case 'get':
          return reply(s.n, s);
        case 'add':
          return reply(s.n + req.n, { n: s.n + req.n });
        case 'later':
          // Deferred reply: answered from handleInfo when a 'release' message comes.
          pending.push(from);
          void ctx;
          return noreply(s);
        case 'quit':
          return stop(Exit.shutdown('quit'), s, { value: -1 });
      }
    },
    async handleCast(msg: Cast, s) {
      if (msg.op === 'crash') {
        if (msg.async) await Promise.resolve();
        throw new Error(`cast crash (${msg.async ? 'async' : 'sync'})`);
      }
      return noreply({ n: s.n + 1 });
    },
    handleInfo(msg: unknown, s, ctx) {
      events.push(['info', msg]);
      if (msg === 'release') for (const f of pending.splice(0)) ctx.reply(f, s.n);
      return noreply(s);
    },
    terminate(reason: ExitReason, s) {
      events.push(['terminate', reason, s.n]);
    },
  });
}

async function startCounter(events: unknown[], start = 0, opts: { trap?: boolean } = {}): Promise<Pid> {
  const pid = await startServer(counter(events), [start, opts]);
  assert.notEqual(pid, IGNORE);
  return pid as Pid;
}

describe('gen_server', () => {
  test('init gets the args; calls thread the state; casts and infos are handled in order', async () => {
    const events: unknown[] = [];
    const pid = await startCounter(events, 10);
    assert.deepEqual(events, [['init', 10]]);
    assert.equal(await call(pid, { op: 'add', n: 5 }), 15);
    cast(pid, { op: 'inc' });
    send(pid, 'hello');
    cast(pid, { op: 'inc' });
    assert.equal(await call(pid, { op: 'get' }), 17);
    assert.deepEqual(events, [
      ['init', 10],
      ['info', 'hello'],
    ]);
    await kill(pid);
  });

  test('startServer resolves only after an async init has returned', async () => {
    const gate = deferred();
    const starting = startServer(
      defineServer({
        async init() {
          await gate.promise;
          return 'ready';
        },
        handleCall: (_r: 'state', _f, s) => reply(s, s),
      }),
      [],
    );
    const state = settledFlag(starting);
    await settle();
    assert.equal(state.done, false);
    gate.resolve();
    const pid = (await starting) as Pid;
    assert.equal(await call(pid, 'state'), 'ready');
    await kill(pid);
  });

  test('a reply can be deferred with noreply and sent later', async () => {
    const events: unknown[] = [];
    const pid = await startCounter(events, 3);
    const later = call(pid, { op: 'later' });
    const state = settledFlag(later);
    assert.equal(await call(pid, { op: 'get' }), 3, 'the server kept serving while the first call waited');
    assert.equal(state.done, false);
    send(pid, 'release');
    assert.equal(await later, 3);
    await kill(pid);
  });

  test('stop with a reply answers the caller, runs terminate and exits with the reason', async () => {
    const events: unknown[] = [];
    const pid = await startCounter(events, 1);
    const gone = awaitExit(pid);
    assert.equal(await call(pid, { op: 'quit' }), -1);
    assert.deepEqual(await gone, Exit.shutdown('quit'));
    assert.deepEqual(events.at(-1), ['terminate', Exit.shutdown('quit'), 1]);
  });

  test('a trapping server stops with terminate when its parent orders it; other EXITs go to handleInfo', async () => {
    const events: unknown[] = [];
    const pid = await startCounter(events, 0, { trap: true });
    const friend = puppet();
    await run(friend, (ctx) => ctx.link(pid));
    await kill(friend);
    await settle();
    assert.equal(isAlive(pid), true);
    assert.deepEqual(events.at(-1), ['info', { type: 'EXIT', from: friend, reason: Exit.killed }]);
    // Test code started it, so test code is its parent.
    const gone = awaitExit(pid);
    exit(pid, Exit.shutdown());
    assert.deepEqual(await gone, Exit.shutdown());
    assert.deepEqual(events.at(-1), ['terminate', Exit.shutdown(), 0]);
  });

  test('a non-trapping server killed by a signal does not run terminate', async () => {
    const events: unknown[] = [];
    const pid = await startCounter(events, 0);
    const gone = awaitExit(pid);
    exit(pid, Exit.shutdown());
    assert.deepEqual(await gone, Exit.shutdown());
    assert.deepEqual(events, [['init', 0]]);
  });

  for (const async of [false, true]) {
    test(`an exception in handleCast (${async ? 'async' : 'sync'}) runs terminate and becomes {error, cause}`, async () => {
      const events: unknown[] = [];
      const pid = await startCounter(events, 7);
      const gone = awaitExit(pid);
      cast(pid, { op: 'crash', async });
      const reason = await gone;
      assert.equal(reason.type, 'error');
      const cause = (reason as { cause: Error }).cause;
      assert.ok(cause instanceof Error);
      assert.equal(cause.message, `cast crash (${async ? 'async' : 'sync'})`);
      assert.match(cause.stack ?? '', /handleCast/);
      assert.deepEqual(events.at(-1), ['terminate', reason, 7]);
    });
  }

  test('an exception in handleCall fails the caller with the server exit reason', async () => {
    const bad = new Error('handleCall failed');
    const pid = (await startServer(
      defineServer({
        init: () => null,
        handleCall: () => {
          throw bad;
        },
      }),
      [],
    )) as Pid;
    await assert.rejects(call(pid, 'anything'), (e: CallError) => {
      assert.equal(e.code, 'ERR_CALL_SERVER_EXITED');
      assert.deepEqual(e.reason, Exit.error(bad));
      return true;
    });
    assert.deepEqual(await awaitExit(pid), Exit.noproc);
  });

  test('a call to a server without handleCall crashes it with ERR_NO_HANDLER', async () => {
    const pid = (await startServer(defineServer({ init: () => null }), [])) as Pid;
    await assert.rejects(call(pid, 'x'), (e: CallError) => {
      const cause = (e.reason as { cause: { code: string; message: string } }).cause;
      assert.equal(cause.code, 'ERR_NO_HANDLER');
      assert.match(cause.message, /handleCall/);
      return true;
    });
  });

  for (const async of [false, true]) {
    test(`init throwing (${async ? 'async' : 'sync'}) rejects the start with ERR_INIT_FAILED and {error, cause}`, async () => {
      const bad = new Error('init failed');
      const parent = puppet({ trapExit: true });
      const err = await startServer(
        defineServer({
          init: async () => {
            if (async) await Promise.resolve();
            throw bad;
          },
        }),
        [],
        { link: parent, name: 'will-fail' },
      ).then(
        () => assert.fail('started'),
        (e: InitFailedError) => e,
      );
      assert.ok(err instanceof InitFailedError);
      assert.equal(err.code, 'ERR_INIT_FAILED');
      assert.deepEqual(err.reason, Exit.error(bad));
      assert.equal(err.cause, bad);
      assert.equal(whereis('will-fail'), undefined);
      await kill(parent);
    });
  }

  test('init returning stop(reason) rejects the start and exits with that reason', async () => {
    const parent = puppet({ trapExit: true });
    const err = await startServer(defineServer({ init: () => stop(Exit.shutdown('no config'), null) }), [], {
      link: parent,
    }).then(
      () => assert.fail('started'),
      (e: InitFailedError) => e,
    );
    assert.deepEqual(err.reason, Exit.shutdown('no config'));
    const exits = (await run(parent, (ctx) => ctx.receive({ type: 'EXIT' }))) as { reason: ExitReason };
    assert.deepEqual(exits.reason, Exit.shutdown('no config'));
    await kill(parent);
  });

  test('init returning ignore resolves with IGNORE and the process ends normally', async () => {
    const parent = puppet({ trapExit: true });
    assert.equal(await startServer(defineServer({ init: () => ignore() }), [], { link: parent }), IGNORE);
    const exits = (await run(parent, (ctx) => ctx.receive({ type: 'EXIT' }))) as { reason: ExitReason };
    assert.deepEqual(exits.reason, Exit.normal);
    await kill(parent);
  });

  test('a server killed while its init is still running fails the start instead of hanging it', async () => {
    const never = new Promise<never>(() => {});
    const holder: { pid?: Pid } = {};
    const starting = startServer(
      defineServer({
        init: async (ctx) => {
          holder.pid = ctx.self;
          return never;
        },
      }),
      [],
    );
    await settle();
    exit(holder.pid!, 'kill');
    await assert.rejects(starting, (e: InitFailedError) => {
      assert.equal(e.code, 'ERR_INIT_FAILED');
      assert.deepEqual(e.reason, Exit.killed);
      return true;
    });
  });

  test('a server linked to a dead parent fails its start with noproc', async () => {
    const dead = spawn(() => undefined);
    await awaitExit(dead);
    let initRan = false;
    await assert.rejects(
      startServer(
        defineServer({
          init: () => {
            initRan = true;
            return null;
          },
        }),
        [],
        { link: dead, name: 'orphan' },
      ),
      (e: InitFailedError) => {
        assert.deepEqual(e.reason, Exit.noproc);
        return true;
      },
    );
    assert.equal(initRan, false);
    assert.equal(whereis('orphan'), undefined);
  });

  test('callback types follow the behaviour', async () => {
    const typed = defineServer({
      init: (_ctx, label: string) => ({ label, hits: 0 }),
      handleCall: (_req: { op: 'hits' }, _from, s) => reply(s.hits, s),
      handleCast: (msg: { op: 'hit' }, s) => noreply({ ...s, hits: s.hits + (msg.op === 'hit' ? 1 : 0) }),
    });
    // @ts-expect-error: init takes a string label
    void (() => startServer(typed, [42]));
    // @ts-expect-error: the state has no field "missing"
    void ((s: Parameters<NonNullable<typeof typed.handleCast>>[1]) => s.missing);
    const pid = (await startServer(typed, ['t'])) as Pid;
    cast(pid, { op: 'hit' });
    assert.equal(await call<number>(pid, { op: 'hits' }), 1);
    await kill(pid);
  });
});
