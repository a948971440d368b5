/**
 * OTP statements 11-13: restart types, restart intensity, restarts that fail to start. The intensity
 * window runs on a SimulatedClock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  cast,
  currentNode,
  Exit,
  type ExitReason,
  eventBus,
  exit,
  isAlive,
  type Pid,
  type RestartType,
  SimulatedClock,
  type SupervisorEvent,
  serverChild,
  settle,
  spawn,
  startSupervisor,
  whichChildren,
} from '../src/index.js';
import {
  assertClean,
  childPid,
  crash,
  deferred,
  idle,
  recorder,
  settledFlag,
  stopSup,
} from './fixtures/app-otp-kit.js';

afterEach(assertClean);

/** Ends the recorder child `id` with `reason` and reports whether the supervisor restarted it. */
async function endWith(
  sup: Pid,
  id: string,
  reason: ExitReason | 'kill',
): Promise<'restarted' | 'not restarted'> {
  const old = await childPid(sup, id);
  if (reason === 'kill') exit(old, 'kill');
  else cast(old, { stop: reason });
  await settle();
  const c = (await whichChildren(sup)).find((x) => x.id === id);
  if (c === undefined) return 'not restarted';
  if (c.pid === undefined) return 'not restarted';
  assert.notEqual(c.pid, old);
  assert.equal(isAlive(c.pid as Pid), true);
  return 'restarted';
}

function recordEvents(): { events: SupervisorEvent[]; off: () => void } {
  const events: SupervisorEvent[] = [];
  const off = eventBus(currentNode()).on((e) => events.push(e));
  return { events, off };
}

const reasons: [string, ExitReason | 'kill'][] = [
  ['normal', Exit.normal],
  ['shutdown', Exit.shutdown()],
  ['{shutdown, detail}', Exit.shutdown('done')],
  ['error', Exit.error(new Error('bad'))],
  ['killed', 'kill'],
];

const expected: Record<RestartType, Record<string, 'restarted' | 'not restarted'>> = {
  permanent: {
    normal: 'restarted',
    shutdown: 'restarted',
    '{shutdown, detail}': 'restarted',
    error: 'restarted',
    killed: 'restarted',
  },
  transient: {
    normal: 'not restarted',
    shutdown: 'not restarted',
    '{shutdown, detail}': 'not restarted',
    error: 'restarted',
    killed: 'restarted',
  },
  temporary: {
    normal: 'not restarted',
    shutdown: 'not restarted',
    '{shutdown, detail}': 'not restarted',
    error: 'not restarted',
    killed: 'not restarted',
  },
};

describe('restart types and intensity', () => {
  for (const restart of ['permanent', 'transient', 'temporary'] as const) {
    test(`S11: ${restart}: restarted or not for each exit reason as OTP says`, async () => {
      const rec = recorder([]);
      const outcome: Record<string, string> = {};
      for (const [label, reason] of reasons) {
        const sup = await startSupervisor({
          children: [{ id: 'c', restart, start: serverChild(rec), args: ['c'] }],
        });
        outcome[label] = await endWith(sup, 'c', reason);
        const kept = (await whichChildren(sup)).map((c) => c.id);
        // A transient child that is not restarted keeps its spec; a temporary one loses it.
        assert.deepEqual(kept, restart === 'temporary' ? [] : ['c']);
        await stopSup(sup);
      }
      assert.deepEqual(outcome, expected[restart]);
    });
  }

  test('S12: more restarts than intensity within period stop the supervisor with shutdown', async () => {
    const clock = new SimulatedClock();
    const log: string[] = [];
    const rec = recorder(log);
    const { events, off } = recordEvents();
    const sup = await startSupervisor(
      {
        flags: { intensity: 2, periodMs: 1000 },
        children: [
          { id: 'calm', start: serverChild(rec), args: ['calm', { trap: true }] },
          { id: 'crashy', start: serverChild(rec), args: ['crashy'] },
        ],
      },
      { clock },
    );
    const gone = awaitExit(sup);
    await crash(sup, 'crashy');
    await clock.advance(10);
    await crash(sup, 'crashy');
    await clock.advance(10);
    assert.equal(isAlive(sup), true);
    const last = await childPid(sup, 'crashy');
    cast(last, 'crash');
    assert.deepEqual(await gone, Exit.shutdown());
    off();
    // Every child was stopped on the way out.
    assert.deepEqual(log.slice(-3), [
      'init crashy',
      'terminate crashy {error, Error: crash crashy}',
      'terminate calm shutdown',
    ]);
    const reached = events.filter((e) => e.type === 'intensity_reached');
    assert.deepEqual(
      reached.map((e) => e.type === 'intensity_reached' && [e.supervisor, e.intensity, e.periodMs]),
      [[sup, 2, 1000]],
    );
  });

  test('S12: restarts older than the period are dropped; one exactly a period old still counts', async () => {
    const clock = new SimulatedClock();
    const rec = recorder([]);
    const sup = await startSupervisor(
      {
        flags: { intensity: 2, periodMs: 1000 },
        children: [{ id: 'w', start: serverChild(rec), args: ['w'] }],
      },
      { clock },
    );
    const gone = awaitExit(sup);
    const done = settledFlag(gone);
    // Restarts at 0, 500, 1001, 1502, 2003: never more than two inside any 1000 ms window.
    for (const step of [0, 500, 501, 501, 501]) {
      await clock.advance(step);
      await crash(sup, 'w');
      assert.equal(done.done, false, `stopped at ${clock.now()}`);
    }
    await clock.advance(500);
    await crash(sup, 'w');
    assert.equal(done.done, false);
    // At 3003 the window starts at 2003: the restart at 2003 is exactly a period old and still counts,
    // so with the one at 2503 and this one there are three.
    await clock.advance(500);
    await crash(sup, 'w');
    assert.deepEqual(await gone, Exit.shutdown());
    assert.equal(clock.now(), 3003);
  });

  test('S12: intensity 0 means the first restart ends the supervisor', async () => {
    const sup = await startSupervisor({
      flags: { intensity: 0 },
      children: [{ id: 'w', start: serverChild(recorder([])), args: ['w'] }],
    });
    const gone = awaitExit(sup);
    await crash(sup, 'w');
    assert.deepEqual(await gone, Exit.shutdown());
  });

  test('S13: a restart that fails marks the child restarting and is retried while requests are served', async () => {
    const gate = deferred();
    let attempt = 0;
    const { events, off } = recordEvents();
    const sup = await startSupervisor({
      flags: { intensity: 5 },
      children: [
        {
          id: 'flaky',
          start: async (sctx) => {
            attempt++;
            if (attempt === 2) await gate.promise;
            if (attempt === 2 || attempt === 3) throw new Error(`attempt ${attempt} failed`);
            return spawn(idle, { link: sctx.parent });
          },
        },
      ],
    });
    const first = await childPid(sup, 'flaky');
    exit(first, Exit.error(new Error('crash')));
    await settle();
    assert.equal(attempt, 2);
    // This request is queued while the restart is in progress: it is served before the retry.
    const during = whichChildren(sup);
    gate.resolve();
    const seen = await during;
    assert.deepEqual(
      seen.map((c) => [c.id, c.pid]),
      [['flaky', 'restarting']],
    );
    await settle();
    assert.equal(attempt, 4);
    const now = await childPid(sup, 'flaky');
    assert.notEqual(now, first);
    off();
    assert.deepEqual(
      events
        .filter((e) => e.type === 'child_start_failed')
        .map((e) => e.type === 'child_start_failed' && e.reason.type),
      ['error', 'error'],
    );
    await stopSup(sup);
  });

  test('S13: each retry of a failing restart counts toward the intensity', async () => {
    let attempt = 0;
    const sup = await startSupervisor({
      flags: { intensity: 2 },
      children: [
        {
          id: 'broken',
          start: async (sctx) => {
            if (++attempt > 1) throw new Error('cannot restart');
            return spawn(idle, { link: sctx.parent });
          },
        },
      ],
    });
    const gone = awaitExit(sup);
    exit(await childPid(sup, 'broken'), Exit.error(new Error('crash')));
    assert.deepEqual(await gone, Exit.shutdown());
    // Restart 1 (fails), retry = restart 2 (fails), retry = restart 3 exceeds intensity 2: not attempted.
    assert.equal(attempt, 3);
  });
});
