/**
 * OTP statements 14-17: shutdown order, shutdown specs (brutal_kill, timeout, infinity), when terminate
 * runs, and significant children with auto_shutdown. Shutdown timers run on a SimulatedClock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  type AutoShutdown,
  awaitExit,
  cast,
  defineServer,
  Exit,
  exit,
  isAlive,
  SimulatedClock,
  serverChild,
  settle,
  spawn,
  startChild,
  startSupervisor,
  supervisorChild,
  whichChildren,
} from '../src/index.js';
import {
  assertClean,
  childPid,
  crash,
  deferred,
  recorder,
  settledFlag,
  stopSup,
  stubborn,
} from './fixtures/app-otp-kit.js';

afterEach(assertClean);

describe('shutdown', () => {
  test('S14: a stopping supervisor stops its children in reverse start order, at every level', async () => {
    const log: string[] = [];
    const rec = recorder(log);
    const trap = (id: string) => ({ id, start: serverChild(rec), args: [id, { trap: true }] });
    const sup = await startSupervisor({
      children: [
        trap('a'),
        { id: 'inner', type: 'supervisor', start: supervisorChild({ children: [trap('i1'), trap('i2')] }) },
        trap('c'),
      ],
    });
    assert.deepEqual(log, ['init a', 'init i1', 'init i2', 'init c']);
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
    assert.deepEqual(log.slice(4), [
      'terminate c shutdown',
      'terminate i2 shutdown',
      'terminate i1 shutdown',
      'terminate a shutdown',
    ]);
  });

  test('S15: brutal_kill kills the child at once, even one that traps exits', async () => {
    const clock = new SimulatedClock();
    const log: string[] = [];
    const sup = await startSupervisor(
      {
        children: [
          { id: 'k', shutdown: 'brutal_kill', start: stubborn(log, 'k') },
          {
            id: 'r',
            shutdown: 'brutal_kill',
            start: serverChild(recorder(log)),
            args: ['r', { trap: true }],
          },
        ],
      },
      { clock },
    );
    const k = await childPid(sup, 'k');
    const r = await childPid(sup, 'r');
    const reasons = Promise.all([awaitExit(k), awaitExit(r)]);
    await stopSup(sup);
    assert.deepEqual(await reasons, [Exit.killed, Exit.killed]);
    assert.deepEqual(log, ['init r', 'k died killed']);
    assert.equal(clock.now(), 0);
  });

  test('S15: a timeout T sends shutdown, waits T ms, then kills', async () => {
    const clock = new SimulatedClock();
    const log: string[] = [];
    const sup = await startSupervisor(
      {
        children: [
          { id: 'stubborn', shutdown: 300, start: stubborn(log, 'stubborn') },
          {
            id: 'polite',
            shutdown: 300,
            start: serverChild(recorder(log)),
            args: ['polite', { trap: true }],
          },
        ],
      },
      { clock },
    );
    const gone = stopSup(sup);
    await settle();
    // polite stops at once on the shutdown signal; stubborn ignores it and is killed at T.
    assert.deepEqual(log, ['init polite', 'terminate polite shutdown', 'stubborn got shutdown']);
    await clock.advance(299);
    assert.equal(log.length, 3);
    await clock.advance(1);
    assert.deepEqual(log.slice(3), ['stubborn died killed']);
    assert.deepEqual(await gone, Exit.shutdown());
    assert.equal(clock.now(), 300);
  });

  test('S15: infinity waits for ever for the child to stop', async () => {
    const clock = new SimulatedClock();
    const release = deferred();
    const slow = defineServer({
      init: (ctx) => {
        ctx.trapExit(true);
        return {};
      },
      terminate: () => release.promise,
    });
    const sup = await startSupervisor(
      { children: [{ id: 'slow', shutdown: 'infinity', start: serverChild(slow) }] },
      { clock },
    );
    const child = await childPid(sup, 'slow');
    const gone = stopSup(sup);
    const done = settledFlag(gone);
    await clock.advance(24 * 3600 * 1000);
    assert.equal(done.done, false);
    assert.equal(isAlive(child), true);
    release.resolve();
    assert.deepEqual(await gone, Exit.shutdown());
    assert.deepEqual(await awaitExit(child), Exit.noproc);
  });

  test('S15: the supervisor waits through a monitor, so a child that unlinked cannot hang it', async () => {
    const clock = new SimulatedClock();
    const childReasons: Promise<unknown>[] = [];
    const sup = await startSupervisor(
      {
        children: [
          {
            // Non-trapping: dies of the shutdown signal, but its death no longer travels through a link.
            id: 'unlinked-plain',
            shutdown: 'infinity',
            start: async (sctx) => {
              const pid = spawn(
                (ctx) => {
                  ctx.unlink(sctx.parent);
                  return ctx.receive(() => false);
                },
                { link: sctx.parent },
              );
              childReasons.push(awaitExit(pid));
              return pid;
            },
          },
          {
            // Trapping: gets the shutdown as a message and ends with that reason.
            id: 'unlinked-trapping',
            shutdown: 'infinity',
            start: async (sctx) => {
              const pid = spawn(
                async (ctx) => {
                  ctx.unlink(sctx.parent);
                  const m = (await ctx.receive({ type: 'EXIT' })) as { reason: never };
                  ctx.stop(m.reason);
                },
                { link: sctx.parent, trapExit: true },
              );
              childReasons.push(awaitExit(pid));
              return pid;
            },
          },
        ],
      },
      { clock },
    );
    await settle();
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
    assert.deepEqual(await Promise.all(childReasons), [Exit.shutdown(), Exit.shutdown()]);
    assert.equal(clock.now(), 0);
  });

  test('S16: terminate runs on shutdown only for a trapping child with a timeout shutdown', async () => {
    const log: string[] = [];
    const rec = recorder(log);
    const sup = await startSupervisor({
      children: [
        {
          id: 'trap-timeout',
          shutdown: 1000,
          start: serverChild(rec),
          args: ['trap-timeout', { trap: true }],
        },
        {
          id: 'trap-brutal',
          shutdown: 'brutal_kill',
          start: serverChild(rec),
          args: ['trap-brutal', { trap: true }],
        },
        { id: 'plain-timeout', shutdown: 1000, start: serverChild(rec), args: ['plain-timeout'] },
      ],
    });
    log.length = 0;
    const pids = await Promise.all(
      ['trap-timeout', 'trap-brutal', 'plain-timeout'].map((id) => childPid(sup, id)),
    );
    const reasons = Promise.all(pids.map((p) => awaitExit(p)));
    await stopSup(sup);
    assert.deepEqual(log, ['terminate trap-timeout shutdown']);
    assert.deepEqual(await reasons, [Exit.shutdown(), Exit.killed, Exit.shutdown()]);
  });
});

describe('significant children', () => {
  test('S17: significant is rejected for a permanent child', async () => {
    for (const autoShutdown of ['any_significant', 'all_significant'] as AutoShutdown[]) {
      await assert.rejects(
        startSupervisor({
          flags: { autoShutdown },
          children: [{ id: 's', restart: 'permanent', significant: true, start: serverChild(recorder([])) }],
        }),
        (e: Error & { code?: string }) =>
          e.code === 'ERR_INVALID_CHILD_SPEC' && /significant/.test(e.message),
      );
    }
  });

  test('S17: significant is rejected when auto_shutdown is never, also through startChild', async () => {
    const spec = {
      id: 's',
      restart: 'transient' as const,
      significant: true,
      start: serverChild(recorder([])),
    };
    await assert.rejects(startSupervisor({ flags: { autoShutdown: 'never' }, children: [spec] }), {
      code: 'ERR_INVALID_CHILD_SPEC',
    });
    const sup = await startSupervisor({});
    await assert.rejects(startChild(sup, spec), { code: 'ERR_INVALID_CHILD_SPEC' });
    assert.deepEqual(await whichChildren(sup), []);
    await stopSup(sup);
  });

  test('S17: any_significant: the supervisor exits with shutdown when a significant child ends unrestarted', async () => {
    const log: string[] = [];
    const rec = recorder(log);
    const sup = await startSupervisor({
      flags: { autoShutdown: 'any_significant', intensity: 5 },
      children: [
        { id: 'plain', start: serverChild(rec), args: ['plain', { trap: true }] },
        { id: 'sig', restart: 'transient', significant: true, start: serverChild(rec), args: ['sig'] },
        {
          id: 'sig2',
          restart: 'transient',
          significant: true,
          start: serverChild(rec),
          args: ['sig2', { trap: true }],
        },
      ],
    });
    const gone = awaitExit(sup);
    // A crash of a transient significant child is restarted: no auto shutdown.
    await crash(sup, 'sig');
    assert.equal(isAlive(sup), true);
    log.length = 0;
    cast(await childPid(sup, 'sig'), { stop: Exit.normal });
    assert.deepEqual(await gone, Exit.shutdown());
    assert.deepEqual(log, ['terminate sig normal', 'terminate sig2 shutdown', 'terminate plain shutdown']);
  });

  test('S17: any_significant also fires for a temporary significant child that crashes', async () => {
    const sup = await startSupervisor({
      flags: { autoShutdown: 'any_significant' },
      children: [
        { id: 't', restart: 'temporary', significant: true, start: serverChild(recorder([])), args: ['t'] },
      ],
    });
    const gone = awaitExit(sup);
    exit(await childPid(sup, 't'), Exit.error(new Error('crash')));
    assert.deepEqual(await gone, Exit.shutdown());
  });

  test('S17: all_significant: the supervisor exits with shutdown when the last significant child ends', async () => {
    const log: string[] = [];
    const rec = recorder(log);
    const sup = await startSupervisor({
      flags: { autoShutdown: 'all_significant' },
      children: [
        { id: 'plain', start: serverChild(rec), args: ['plain', { trap: true }] },
        { id: 's1', restart: 'transient', significant: true, start: serverChild(rec), args: ['s1'] },
        { id: 's2', restart: 'temporary', significant: true, start: serverChild(rec), args: ['s2'] },
      ],
    });
    const gone = awaitExit(sup);
    cast(await childPid(sup, 's1'), { stop: Exit.shutdown('done') });
    await settle();
    assert.equal(isAlive(sup), true);
    log.length = 0;
    cast(await childPid(sup, 's2'), { stop: Exit.normal });
    assert.deepEqual(await gone, Exit.shutdown());
    assert.deepEqual(log, ['terminate s2 normal', 'terminate plain shutdown']);
  });
});
