/**
 * OTP statements 18-21: the supervisor's control functions and their errors.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  countChildren,
  deleteChild,
  Exit,
  exit,
  IGNORE,
  isAlive,
  type Pid,
  restartChild,
  SimulatedClock,
  type SupervisorRequestError,
  serverChild,
  settle,
  startChild,
  startSupervisor,
  supervisorChild,
  terminateChild,
  whichChildren,
} from '../src/index.js';
import { assertClean, childPid, idle, rawChild, recorder, stopSup } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

function failsWith(code: string, reason: string, id?: string) {
  return (e: SupervisorRequestError) => {
    assert.equal(e.code, code);
    assert.equal(e.reason, reason);
    if (id !== undefined) assert.match(e.message, new RegExp(`"${id}"`));
    return true;
  };
}

/** A child with a 1 s backoff: after a crash it stays `restarting` until the clock passes 1 s. */
const backoffChild = (id: string) => ({ id, start: rawChild(idle), backoff: { minMs: 1000, maxMs: 1000 } });

describe('supervisor control functions', () => {
  test('S18: startChild with an existing id: already_started with the pid, or already_present', async () => {
    const sup = await startSupervisor({ children: [{ id: 'w', start: rawChild(idle) }] });
    const w = await childPid(sup, 'w');
    await assert.rejects(startChild(sup, { id: 'w', start: rawChild(idle) }), (e: SupervisorRequestError) => {
      failsWith('ERR_ALREADY_STARTED', 'already_started', 'w')(e);
      assert.equal(e.details?.pid, w);
      return true;
    });
    await terminateChild(sup, 'w');
    await assert.rejects(
      startChild(sup, { id: 'w', start: rawChild(idle) }),
      failsWith('ERR_ALREADY_PRESENT', 'already_present', 'w'),
    );
    // Neither attempt started anything or changed the spec.
    assert.deepEqual(
      (await whichChildren(sup)).map((c) => [c.id, c.pid]),
      [['w', undefined]],
    );
    await stopSup(sup);
  });

  test('S19: terminateChild stops the child and keeps its spec; a temporary child spec is deleted', async () => {
    const sup = await startSupervisor({
      children: [
        { id: 'keep', start: rawChild(idle) },
        { id: 'tmp', restart: 'temporary', start: rawChild(idle) },
      ],
    });
    const keep = await childPid(sup, 'keep');
    const tmp = await childPid(sup, 'tmp');
    const reasons = Promise.all([awaitExit(keep), awaitExit(tmp)]);
    assert.equal(await terminateChild(sup, 'keep'), true);
    assert.equal(await terminateChild(sup, 'tmp'), true);
    assert.deepEqual(await reasons, [Exit.shutdown(), Exit.shutdown()]);
    await settle();
    // Not restarted: an ordered stop is not a crash.
    assert.deepEqual(
      (await whichChildren(sup)).map((c) => [c.id, c.pid]),
      [['keep', undefined]],
    );
    // Terminating a child that is already stopped is fine (OTP answers ok).
    assert.equal(await terminateChild(sup, 'keep'), true);
    await assert.rejects(terminateChild(sup, 'nope'), failsWith('ERR_CHILD_NOT_FOUND', 'not_found', 'nope'));
    await stopSup(sup);
  });

  test('S19: terminateChild of a child waiting for its restart cancels that restart', async () => {
    const clock = new SimulatedClock();
    const sup = await startSupervisor({ children: [backoffChild('b')] }, { clock });
    exit(await childPid(sup, 'b'), Exit.error(new Error('crash')));
    await settle();
    assert.equal((await whichChildren(sup))[0]!.pid, 'restarting');
    await terminateChild(sup, 'b');
    await clock.advance(5000);
    assert.equal((await whichChildren(sup))[0]!.pid, undefined);
    // It can be restarted by hand as usual.
    const p = await restartChild(sup, 'b');
    assert.equal(isAlive(p as Pid), true);
    await stopSup(sup);
  });

  test('S20: restartChild only when the child has no pid; otherwise running, restarting or not_found', async () => {
    const clock = new SimulatedClock();
    const sup = await startSupervisor(
      {
        children: [
          { id: 'w', start: rawChild(idle) },
          backoffChild('b'),
          { id: 'ig', start: async () => IGNORE },
        ],
      },
      { clock },
    );
    const w = await childPid(sup, 'w');
    await assert.rejects(restartChild(sup, 'w'), failsWith('ERR_CHILD_RUNNING', 'running', 'w'));
    await assert.rejects(restartChild(sup, 'nope'), failsWith('ERR_CHILD_NOT_FOUND', 'not_found', 'nope'));
    exit(await childPid(sup, 'b'), Exit.error(new Error('crash')));
    await settle();
    await assert.rejects(restartChild(sup, 'b'), failsWith('ERR_CHILD_RESTARTING', 'restarting', 'b'));
    await terminateChild(sup, 'w');
    const w2 = await restartChild(sup, 'w');
    assert.notEqual(w2, w);
    assert.equal(await childPid(sup, 'w'), w2);
    // A start that answers ignore again resolves with IGNORE.
    assert.equal(await restartChild(sup, 'ig'), IGNORE);
    await stopSup(sup);
  });

  test('S20: deleteChild only when the child is not running', async () => {
    const clock = new SimulatedClock();
    const sup = await startSupervisor(
      { children: [{ id: 'w', start: rawChild(idle) }, backoffChild('b')] },
      { clock },
    );
    await assert.rejects(deleteChild(sup, 'w'), failsWith('ERR_CHILD_RUNNING', 'running', 'w'));
    exit(await childPid(sup, 'b'), Exit.error(new Error('crash')));
    await settle();
    await assert.rejects(deleteChild(sup, 'b'), failsWith('ERR_CHILD_RESTARTING', 'restarting', 'b'));
    await assert.rejects(deleteChild(sup, 'nope'), failsWith('ERR_CHILD_NOT_FOUND', 'not_found', 'nope'));
    await terminateChild(sup, 'w');
    assert.equal(await deleteChild(sup, 'w'), true);
    assert.deepEqual(
      (await whichChildren(sup)).map((c) => c.id),
      ['b'],
    );
    // The id is free again.
    const again = await startChild(sup, { id: 'w', start: rawChild(idle) });
    assert.equal(isAlive(again as Pid), true);
    await stopSup(sup);
  });

  test('S21: whichChildren lists id, pid (or restarting / undefined) and type; countChildren counts', async () => {
    const clock = new SimulatedClock();
    const sup = await startSupervisor(
      {
        children: [
          { id: 'w', start: serverChild(recorder([])), args: ['w'] },
          { id: 'stopped', start: rawChild(idle) },
          { id: 'inner', type: 'supervisor', start: supervisorChild({}) },
          backoffChild('b'),
        ],
      },
      { clock, name: 'api-sup' },
    );
    const w = await childPid(sup, 'w');
    const inner = await childPid(sup, 'inner');
    await terminateChild(sup, 'stopped');
    exit(await childPid(sup, 'b'), Exit.error(new Error('crash')));
    await settle();
    assert.deepEqual(
      (await whichChildren(sup)).map((c) => [c.id, c.pid, c.type]),
      [
        ['w', w, 'worker'],
        ['stopped', undefined, 'worker'],
        ['inner', inner, 'supervisor'],
        ['b', 'restarting', 'worker'],
      ],
    );
    assert.deepEqual(await countChildren(sup), { specs: 4, active: 2, supervisors: 1, workers: 3 });
    // The same through the supervisor's registered name.
    assert.deepEqual(await countChildren('api-sup'), { specs: 4, active: 2, supervisors: 1, workers: 3 });
    await clock.advance(1000);
    assert.deepEqual(await countChildren(sup), { specs: 4, active: 3, supervisors: 1, workers: 3 });
    assert.equal((await whichChildren(sup))[3]!.restarts, 1);
    await stopSup(sup);
  });
});
