/**
 * OTP statements 6-10: restart strategies. Children are recorder gen_servers that trap exits, so the
 * log shows both the order in which they are stopped (terminate) and started (init).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  type ChildSpec,
  call,
  countChildren,
  deleteChild,
  Exit,
  exit,
  isAlive,
  type Pid,
  restartChild,
  SimulatedClock,
  type Strategy,
  type SupervisorRequestError,
  serverChild,
  settle,
  startChild,
  startSupervisor,
  type TrellisError,
  terminateChild,
  whichChildren,
} from '../src/index.js';
import { assertClean, childPid, crash, recorder, stopSup, stubborn } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

function specs(
  log: string[],
  ids: string[],
  extra: Partial<Record<string, Partial<ChildSpec>>> = {},
): ChildSpec[] {
  const rec = recorder(log);
  return ids.map((id) => ({ id, start: serverChild(rec), args: [id, { trap: true }], ...extra[id] }));
}

async function pids(sup: Pid): Promise<Record<string, unknown>> {
  return Object.fromEntries((await whichChildren(sup)).map((c) => [c.id, c.pid]));
}

async function startWith(strategy: Strategy, log: string[], ids: string[], extra = {}): Promise<Pid> {
  const sup = await startSupervisor({ flags: { strategy, intensity: 10 }, children: specs(log, ids, extra) });
  log.length = 0;
  return sup;
}

describe('restart strategies', () => {
  test('S6: one_for_one restarts only the dead child', async () => {
    const log: string[] = [];
    const sup = await startWith('one_for_one', log, ['a', 'b', 'c']);
    const before = await pids(sup);
    const old = await crash(sup, 'b');
    assert.deepEqual(log, ['terminate b {error, Error: crash b}', 'init b']);
    const after = await pids(sup);
    assert.equal(after.a, before.a);
    assert.equal(after.c, before.c);
    assert.notEqual(after.b, old);
    assert.equal(isAlive(after.b as Pid), true);
    await stopSup(sup);
  });

  test('S7: one_for_all stops the others in reverse start order, then starts all in start order', async () => {
    const log: string[] = [];
    const sup = await startWith('one_for_all', log, ['a', 'b', 'c', 'd']);
    const before = await pids(sup);
    await crash(sup, 'b');
    assert.deepEqual(log, [
      'terminate b {error, Error: crash b}',
      'terminate d shutdown',
      'terminate c shutdown',
      'terminate a shutdown',
      'init a',
      'init b',
      'init c',
      'init d',
    ]);
    const after = await pids(sup);
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.notEqual(after[id], before[id], `${id} was not restarted`);
      assert.equal(isAlive(before[id] as Pid), false);
    }
    await stopSup(sup);
  });

  test('S8: rest_for_one restarts the dead child and those after it; earlier ones are untouched', async () => {
    const log: string[] = [];
    const sup = await startWith('rest_for_one', log, ['a', 'b', 'c', 'd']);
    const before = await pids(sup);
    await crash(sup, 'b');
    assert.deepEqual(log, [
      'terminate b {error, Error: crash b}',
      'terminate d shutdown',
      'terminate c shutdown',
      'init b',
      'init c',
      'init d',
    ]);
    const after = await pids(sup);
    assert.equal(after.a, before.a);
    for (const id of ['b', 'c', 'd']) assert.notEqual(after[id], before[id]);
    // The last child dying restarts only itself.
    log.length = 0;
    await crash(sup, 'd');
    assert.deepEqual(log, ['terminate d {error, Error: crash d}', 'init d']);
    await stopSup(sup);
  });

  for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
    test(`S9: a temporary child stopped as collateral under ${strategy} is not restarted and its spec is removed`, async () => {
      const log: string[] = [];
      const sup = await startWith(strategy, log, ['a', 'b', 'tmp', 'c'], { tmp: { restart: 'temporary' } });
      const tmp = await childPid(sup, 'tmp');
      await crash(sup, 'a');
      assert.equal(isAlive(tmp), false);
      assert.deepEqual(log, [
        'terminate a {error, Error: crash a}',
        'terminate c shutdown',
        'terminate tmp shutdown',
        'terminate b shutdown',
        'init a',
        'init b',
        'init c',
      ]);
      assert.deepEqual(
        (await whichChildren(sup)).map((c) => c.id),
        ['a', 'b', 'c'],
      );
      await stopSup(sup);
    });
  }

  test('S10: simple_one_for_one takes exactly one spec and starts no child at init', async () => {
    const log: string[] = [];
    for (const children of [[], specs(log, ['a', 'b'])]) {
      await assert.rejects(startSupervisor({ flags: { strategy: 'simple_one_for_one' }, children }), {
        code: 'ERR_INVALID_CHILD_SPEC',
      });
    }
    const sup = await startSupervisor({
      flags: { strategy: 'simple_one_for_one' },
      children: specs(log, ['tpl']),
    });
    assert.deepEqual(log, []);
    assert.deepEqual(await countChildren(sup), { specs: 1, active: 0, supervisors: 0, workers: 0 });
    assert.deepEqual(await whichChildren(sup), []);
    await stopSup(sup);
  });

  test('S10: startChild(extraArgs) appends to the spec args, and a restart reuses the stored args', async () => {
    const log: string[] = [];
    const sup = await startSupervisor({
      flags: { strategy: 'simple_one_for_one', intensity: 5 },
      children: [{ id: 'tpl', start: serverChild(recorder(log)), args: ['worker'] }],
    });
    const p1 = (await startChild(sup, [{}, 'one', 1])) as Pid;
    const p2 = (await startChild(sup, [{}, 'two', 2])) as Pid;
    assert.deepEqual(await call(p1, 'args'), ['worker', {}, 'one', 1]);
    assert.deepEqual(await call(p2, 'args'), ['worker', {}, 'two', 2]);
    const children = await whichChildren(sup);
    assert.deepEqual(
      children.map((c) => [c.id, c.pid]),
      [
        [undefined, p1],
        [undefined, p2],
      ],
    );
    exit(p1, Exit.error(new Error('crash')));
    await settle();
    const [r1, r2] = (await whichChildren(sup)).map((c) => c.pid as Pid);
    assert.notEqual(r1, p1);
    assert.equal(r2, p2);
    assert.deepEqual(await call(r1!, 'args'), ['worker', {}, 'one', 1]);
    assert.deepEqual(await countChildren(sup), { specs: 1, active: 2, supervisors: 0, workers: 2 });
    await stopSup(sup);
  });

  test('S10: restartChild and deleteChild answer simple_one_for_one; terminateChild takes a pid', async () => {
    const log: string[] = [];
    const sup = await startSupervisor({
      flags: { strategy: 'simple_one_for_one' },
      children: specs(log, ['tpl']),
    });
    const p = (await startChild(sup, [])) as Pid;
    for (const op of [
      () => restartChild(sup, 'tpl'),
      () => deleteChild(sup, 'tpl'),
      () => terminateChild(sup, 'tpl'),
    ]) {
      await assert.rejects(op(), (e: SupervisorRequestError) => {
        assert.equal(e.code, 'ERR_SIMPLE_ONE_FOR_ONE');
        assert.equal(e.reason, 'simple_one_for_one');
        return true;
      });
    }
    const gone = awaitExit(p);
    assert.equal(await terminateChild(sup, p), true);
    assert.deepEqual(await gone, Exit.shutdown());
    assert.deepEqual(await whichChildren(sup), []);
    await assert.rejects(terminateChild(sup, p), (e: TrellisError) => e.code === 'ERR_CHILD_NOT_FOUND');
    await stopSup(sup);
  });

  test('S10: at shutdown all dynamic children are signalled at once under one timer', async () => {
    const clock = new SimulatedClock();
    const log: string[] = [];
    const sup = await startSupervisor(
      {
        flags: { strategy: 'simple_one_for_one' },
        children: [{ id: 'tpl', shutdown: 1000, start: stubborn(log, 'w') }],
      },
      { clock },
    );
    for (let i = 0; i < 3; i++) await startChild(sup, []);
    const gone = stopSup(sup);
    await clock.advance(999);
    // All three got the shutdown signal at time 0, none has been killed yet.
    assert.deepEqual(log, ['w got shutdown', 'w got shutdown', 'w got shutdown']);
    await clock.advance(1);
    assert.deepEqual(log.slice(3), ['w died killed', 'w died killed', 'w died killed']);
    assert.deepEqual(await gone, Exit.shutdown());
    // One 1000 ms timer for all, not one after the other (which would take 3000 ms).
    assert.equal(clock.now(), 1000);
    assert.equal(clock.pending, 0);
  });
});
