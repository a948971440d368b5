/**
 * OTP statements 1-5: supervisor start-up, child start results, start failure, validation, defaults.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  CHILD_DEFAULTS,
  type ChildSpec,
  cast,
  countChildren,
  DuplicateChildError,
  defineServer,
  Exit,
  exit,
  IGNORE,
  ignore,
  isAlive,
  type Pid,
  SimulatedClock,
  SUPERVISOR_DEFAULTS,
  type SupervisorStartError,
  serverChild,
  settle,
  spawn,
  startChild,
  startSupervisor,
  supervisorChild,
  type TrellisError,
  whichChildren,
} from '../src/index.js';
import {
  assertClean,
  childPid,
  crash,
  deferred,
  drain,
  idle,
  kill,
  puppet,
  rawChild,
  recorder,
  run,
  settledFlag,
  stopSup,
  stubborn,
} from './fixtures/app-otp-kit.js';

afterEach(assertClean);

describe('supervisor start-up', () => {
  test('S1: children start one by one in spec order; start resolves only after every child start returned', async () => {
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const child = (i: number): ChildSpec => ({
      id: `c${i}`,
      start: async (sctx) => {
        log.push(`begin c${i}`);
        await gates[i]!.promise;
        log.push(`end c${i}`);
        return spawn(idle, { link: sctx.parent });
      },
    });
    const starting = startSupervisor({ children: [child(0), child(1), child(2)] });
    const started = settledFlag(starting);
    await settle();
    assert.deepEqual(log, ['begin c0']);
    gates[0]!.resolve();
    await settle();
    assert.deepEqual(log, ['begin c0', 'end c0', 'begin c1']);
    gates[1]!.resolve();
    await settle();
    assert.deepEqual(log, ['begin c0', 'end c0', 'begin c1', 'end c1', 'begin c2']);
    assert.equal(started.done, false, 'start resolved before the last child had started');
    gates[2]!.resolve();
    const sup = await starting;
    assert.deepEqual(log, ['begin c0', 'end c0', 'begin c1', 'end c1', 'begin c2', 'end c2']);
    const children = await whichChildren(sup);
    assert.deepEqual(
      children.map((c) => c.id),
      ['c0', 'c1', 'c2'],
    );
    for (const c of children) assert.equal(isAlive(c.pid as Pid), true);
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
  });

  test('S1: a supervisor traps exits: a linked process that crashes does not take it down', async () => {
    const sup = await startSupervisor({ children: [{ id: 'w', start: rawChild(idle) }] });
    const w = await childPid(sup, 'w');
    const stranger = puppet();
    await run(stranger, (ctx) => ctx.link(sup));
    const gone = awaitExit(stranger);
    exit(stranger, Exit.error(new Error('stranger crashed')));
    await gone;
    await settle();
    assert.equal(isAlive(sup), true);
    assert.equal(await childPid(sup, 'w'), w);
    await stopSup(sup);
  });

  test('S2: a start returns ok with the pid, or ignore: the spec is kept with no pid', async () => {
    const ignoring = defineServer({ init: () => ignore() });
    let returned: Pid | undefined;
    const sup = await startSupervisor({
      children: [
        { id: 'server-ignores', start: serverChild(ignoring) },
        { id: 'fn-ignores', start: async () => IGNORE },
        {
          id: 'ok',
          start: async (sctx) => {
            returned = spawn(idle, { link: sctx.parent });
            return returned;
          },
        },
      ],
    });
    const children = await whichChildren(sup);
    assert.deepEqual(
      children.map((c) => [c.id, c.pid]),
      [
        ['server-ignores', undefined],
        ['fn-ignores', undefined],
        ['ok', returned],
      ],
    );
    assert.deepEqual(await countChildren(sup), { specs: 3, active: 1, supervisors: 0, workers: 3 });
    // The same through startChild: ignore resolves with IGNORE and keeps the spec.
    assert.equal(await startChild(sup, { id: 'late', start: async () => IGNORE }), IGNORE);
    assert.deepEqual((await whichChildren(sup)).at(-1), {
      id: 'late',
      pid: undefined,
      type: 'worker',
      restart: 'permanent',
      significant: false,
      restarts: 0,
    });
    await stopSup(sup);
  });

  test('S2: a temporary child that answers ignore is dropped', async () => {
    const sup = await startSupervisor({
      children: [
        { id: 'tmp', restart: 'temporary', start: async () => IGNORE },
        { id: 'kept', restart: 'transient', start: async () => IGNORE },
      ],
    });
    assert.deepEqual(
      (await whichChildren(sup)).map((c) => c.id),
      ['kept'],
    );
    assert.equal(
      await startChild(sup, { id: 'tmp2', restart: 'temporary', start: async () => IGNORE }),
      IGNORE,
    );
    assert.deepEqual(
      (await whichChildren(sup)).map((c) => c.id),
      ['kept'],
    );
    await stopSup(sup);
  });

  test('S2: a start that returns an error fails startChild and keeps no spec', async () => {
    const sup = await startSupervisor({});
    const cause = new Error('cannot start');
    await assert.rejects(
      startChild(sup, {
        id: 'bad',
        start: async () => {
          throw cause;
        },
      }),
      (e: TrellisError) => {
        assert.equal(e.code, 'ERR_START_CHILD_FAILED');
        assert.match(e.message, /"bad"/);
        assert.match(e.message, /cannot start/);
        return true;
      },
    );
    assert.deepEqual(await whichChildren(sup), []);
    await stopSup(sup);
  });

  test('S3: a child failing during init unwinds the started ones in reverse order and fails the start', async () => {
    const log: string[] = [];
    const parent = puppet({ trapExit: true });
    const rec = recorder(log);
    const err = await startSupervisor(
      {
        children: [
          { id: 'a', start: serverChild(rec), args: ['a', { trap: true }] },
          { id: 'b', start: serverChild(rec), args: ['b', { trap: true }] },
          { id: 'c', start: serverChild(rec), args: ['c', { failInit: 'c cannot start' }] },
          { id: 'd', start: serverChild(rec), args: ['d'] },
        ],
      },
      { link: parent },
    ).then(
      () => assert.fail('start succeeded'),
      (e: SupervisorStartError) => e,
    );
    assert.deepEqual(log, ['init a', 'init b', 'terminate b shutdown', 'terminate a shutdown']);
    assert.equal(err.code, 'ERR_SUPERVISOR_START_FAILED');
    assert.match(err.message, /"c"/);
    assert.match(err.message, /c cannot start/);
    const cause = (err.reason as { detail: { reason: { cause: Error } } }).detail.reason.cause;
    assert.ok(cause instanceof Error);
    assert.match(cause.stack ?? '', /c cannot start/);
    assert.deepEqual(err.reason, Exit.shutdown({ failedToStartChild: 'c', reason: Exit.error(cause) }));
    // The supervisor itself exited with that reason (its linked parent traps and sees it).
    const [exitMsg] = (await drain(parent)) as { type: string; reason: unknown }[];
    assert.equal(exitMsg!.type, 'EXIT');
    assert.deepEqual(exitMsg!.reason, err.reason);
    await kill(parent);
  });

  test('S4: duplicate child ids are rejected', async () => {
    await assert.rejects(
      startSupervisor({
        children: [
          { id: 'x', start: rawChild(idle) },
          { id: 'x', start: rawChild(idle) },
        ],
      }),
      (e: DuplicateChildError) => e instanceof DuplicateChildError && e.code === 'ERR_DUPLICATE_CHILD_ID',
    );
  });

  test('S4: intensity must be an integer >= 0 and period an integer > 0', async () => {
    for (const intensity of [-1, 1.5, Number.NaN, '2' as unknown as number]) {
      await assert.rejects(startSupervisor({ flags: { intensity } }), {
        code: 'ERR_INVALID_SUPERVISOR_FLAGS',
      });
    }
    for (const periodMs of [0, -1, 2.5, Number.POSITIVE_INFINITY]) {
      await assert.rejects(startSupervisor({ flags: { periodMs } }), {
        code: 'ERR_INVALID_SUPERVISOR_FLAGS',
      });
    }
    // The edges are valid.
    const sup = await startSupervisor({ flags: { intensity: 0, periodMs: 1 } });
    await stopSup(sup);
  });

  test('S5: the defaults are OTP defaults', () => {
    assert.deepEqual(
      { ...SUPERVISOR_DEFAULTS },
      { strategy: 'one_for_one', intensity: 1, periodMs: 5000, autoShutdown: 'never' },
    );
    assert.equal(CHILD_DEFAULTS.restart, 'permanent');
    assert.equal(CHILD_DEFAULTS.type, 'worker');
    assert.equal(CHILD_DEFAULTS.workerShutdownMs, 5000);
    assert.equal(CHILD_DEFAULTS.supervisorShutdown, 'infinity');
    assert.equal(Object.isFrozen(SUPERVISOR_DEFAULTS) && Object.isFrozen(CHILD_DEFAULTS), true);
  });

  test('S5: default strategy one_for_one and default child restart permanent, type worker', async () => {
    const log: string[] = [];
    const rec = recorder(log);
    const sup = await startSupervisor({
      children: [
        { id: 'a', start: serverChild(rec), args: ['a'] },
        { id: 'b', start: serverChild(rec), args: ['b'] },
      ],
    });
    assert.deepEqual(
      (await whichChildren(sup)).map((c) => [c.id, c.type, c.restart, c.significant]),
      [
        ['a', 'worker', 'permanent', false],
        ['b', 'worker', 'permanent', false],
      ],
    );
    const a = await childPid(sup, 'a');
    const b = await childPid(sup, 'b');
    // permanent: a normal exit is restarted too; one_for_one: b is left alone.
    cast(a, { stop: Exit.normal });
    await settle();
    assert.notEqual(await childPid(sup, 'a'), a);
    assert.equal(await childPid(sup, 'b'), b);
    assert.deepEqual(log, ['init a', 'init b', 'terminate a normal', 'init a']);
    await stopSup(sup);
  });

  test('S5: default intensity 1 within a default period of 5 s', async () => {
    const clock = new SimulatedClock();
    const rec = recorder([]);
    const sup = await startSupervisor(
      { children: [{ id: 'w', start: serverChild(rec), args: ['w'] }] },
      { clock },
    );
    const gone = awaitExit(sup);
    const supDone = settledFlag(gone);
    await crash(sup, 'w');
    assert.equal(supDone.done, false, 'one restart is allowed');
    // More than 5 s later the first restart no longer counts.
    await clock.advance(5001);
    await crash(sup, 'w');
    assert.equal(supDone.done, false, 'a restart outside the period was counted');
    await clock.advance(4999);
    await crash(sup, 'w');
    assert.deepEqual(await gone, Exit.shutdown());
  });

  test('S5: auto_shutdown defaults to never, so a significant child is refused', async () => {
    await assert.rejects(
      startSupervisor({
        children: [{ id: 's', restart: 'transient', significant: true, start: rawChild(idle) }],
      }),
      { code: 'ERR_INVALID_CHILD_SPEC' },
    );
  });

  test('S5: a worker shutdown defaults to 5000 ms: a child ignoring shutdown is killed after 5000 ms', async () => {
    const clock = new SimulatedClock();
    const log: string[] = [];
    const sup = await startSupervisor({ children: [{ id: 'w', start: stubborn(log, 'w') }] }, { clock });
    const gone = stopSup(sup);
    await clock.advance(4999);
    assert.deepEqual(log, ['w got shutdown']);
    await clock.advance(1);
    assert.deepEqual(log, ['w got shutdown', 'w died killed']);
    assert.deepEqual(await gone, Exit.shutdown());
    assert.equal(clock.now(), 5000);
  });

  test('S5: a supervisor child shutdown defaults to infinity', async () => {
    const clock = new SimulatedClock();
    const log: string[] = [];
    const sup = await startSupervisor(
      {
        children: [
          {
            id: 'inner',
            type: 'supervisor',
            start: supervisorChild({
              children: [{ id: 'slow', shutdown: 60_000, start: stubborn(log, 'slow') }],
            }),
          },
        ],
      },
      { clock },
    );
    const gone = stopSup(sup);
    const done = settledFlag(gone);
    // Far beyond a worker's 5000 ms, the outer supervisor still waits for the inner one.
    await clock.advance(59_999);
    assert.equal(done.done, false);
    assert.deepEqual(log, ['slow got shutdown']);
    await clock.advance(1);
    assert.deepEqual(log, ['slow got shutdown', 'slow died killed']);
    assert.deepEqual(await gone, Exit.shutdown());
  });
});
