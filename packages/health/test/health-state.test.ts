/**
 * The heartbeat state machine, driven by a SimulatedClock: initializing -> active -> stale -> failed,
 * stale -> active on recovery, the start-up time-out, exits, per-actor timings, early beats, the
 * message and call paths, bad input, and restart counts from real supervisor events.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  call,
  Exit,
  exit,
  type Pid,
  SimulatedClock,
  send,
  serverChild,
  settle,
  spawn,
  startSupervisor,
} from '@trellis/core';
import {
  dueTransition,
  findHealthMonitor,
  type HealthEvent,
  type HealthMonitor,
  healthRecords,
  healthRequest,
  heartbeat,
  monitoredChild,
  type Slot,
  startHealthMonitor,
} from '../src/index.js';
import { beater } from './beater.js';

const stops: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

/** A process that only waits to be told to stop (or is killed). */
function idle(): Pid {
  const pid = spawn(async (ctx) => {
    await ctx.receive((m) => m === 'stop');
  });
  stops.push(async () => {
    exit(pid, 'kill');
    await awaitExit(pid);
  });
  return pid;
}

async function monitorWith(
  clock: SimulatedClock,
  name: string,
): Promise<{ m: HealthMonitor; events: HealthEvent[] }> {
  const pid = await startHealthMonitor({ name, persist: false, clock, scanIntervalMs: 10 });
  stops.push(async () => {
    const done = awaitExit(pid);
    exit(pid, Exit.shutdown());
    await done;
  });
  const m = findHealthMonitor(name)!;
  const events: HealthEvent[] = [];
  m.on((e) => events.push(e));
  return { m, events };
}

function stateOf(m: HealthMonitor, key: string) {
  return m.get(key)!.state;
}

/** Lets queued messages (DOWN, supervisor events) be handled. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await settle();
  assert.ok(cond(), `never happened: ${what}`);
}

describe('health state machine: pure deadlines', () => {
  const slot = (over: Partial<Slot>): Slot =>
    ({
      state: 'active',
      registeredAt: 0,
      lastBeat: 100,
      stateSince: 0,
      timings: { intervalMs: 100, staleAfterMs: 300, startupTimeoutMs: 500, failAfterMs: 200 },
      ...over,
    }) as Slot;

  test('each deadline fires exactly at its time, not a millisecond before', () => {
    assert.equal(dueTransition(slot({}), 399.9), undefined);
    assert.deepEqual(dueTransition(slot({}), 400), { to: 'stale', cause: 'missed_heartbeats', at: 400 });
    assert.equal(dueTransition(slot({ state: 'initializing', lastBeat: undefined }), 499), undefined);
    assert.deepEqual(dueTransition(slot({ state: 'initializing', lastBeat: undefined }), 777), {
      to: 'stale',
      cause: 'startup_timeout',
      at: 500,
    });
    assert.equal(dueTransition(slot({ state: 'stale', stateSince: 400 }), 599), undefined);
    assert.deepEqual(dueTransition(slot({ state: 'stale', stateSince: 400 }), 600), {
      to: 'failed',
      cause: 'stale_too_long',
      at: 600,
    });
    assert.equal(dueTransition(slot({ state: 'failed' }), 1e9), undefined);
    assert.equal(dueTransition(slot({ state: 'stopped' }), 1e9), undefined);
  });
});

describe('health state machine: the monitor with a simulated clock', () => {
  test('initializing -> active -> stale -> active -> stale -> failed, at the exact deadlines', async () => {
    const clock = new SimulatedClock(0);
    const { m, events } = await monitorWith(clock, 'h-sm');
    const a = idle();
    m.register(a, { key: 'a', intervalMs: 100, staleAfterMs: 300, startupTimeoutMs: 500, failAfterMs: 200 });
    const t0 = m.get('a')!.registeredAt;
    assert.equal(stateOf(m, 'a'), 'initializing');

    await clock.advance(50);
    assert.equal(m.beat(a), true);
    assert.equal(stateOf(m, 'a'), 'active');
    await clock.advance(290); // t=340: 290 ms after the beat, below 300
    assert.equal(stateOf(m, 'a'), 'active');
    await clock.advance(20); // t=360: scanned at 350 (the deadline)
    const stale = m.get('a')!;
    assert.equal(stale.state, 'stale');
    assert.equal(stale.cause, 'missed_heartbeats');
    assert.equal(stale.stateSince - t0, 350, 'stale takes effect at lastBeat + staleAfterMs');

    m.beat(a);
    assert.equal(m.get('a')!.state, 'active');
    assert.equal(m.get('a')!.cause, 'recovered');

    await clock.advance(600); // beat at 360: stale at 660, failed at 860
    const failed = m.get('a')!;
    assert.equal(failed.state, 'failed');
    assert.equal(failed.cause, 'stale_too_long');
    assert.equal(failed.stateSince - t0, 860);

    m.beat(a);
    assert.equal(m.get('a')!.state, 'failed', 'failed is terminal for this incarnation');
    assert.equal(m.get('a')!.beats, 3);

    assert.deepEqual(
      events
        .filter((e) => e.type === 'state' && e.key === 'a')
        .map((e) => e.type === 'state' && `${e.from}>${e.to}:${e.cause}`),
      [
        'null>initializing:registered',
        'initializing>active:first_heartbeat',
        'active>stale:missed_heartbeats',
        'stale>active:recovered',
        'active>stale:missed_heartbeats',
        'stale>failed:stale_too_long',
      ],
    );
  });

  test('an actor that never sends its first beat turns stale at its start-up time-out', async () => {
    const clock = new SimulatedClock(0);
    const { m } = await monitorWith(clock, 'h-startup');
    const b = idle();
    m.register(b, { key: 'b', intervalMs: 100, startupTimeoutMs: 500 });
    await clock.advance(490);
    assert.equal(stateOf(m, 'b'), 'initializing');
    await clock.advance(20);
    const r = m.get('b')!;
    assert.equal(r.state, 'stale');
    assert.equal(r.cause, 'startup_timeout');
    assert.equal(r.stateSince - r.registeredAt, 500);
    m.beat(b);
    assert.equal(stateOf(m, 'b'), 'active', 'a late first beat is a recovery');
  });

  test('each actor has its own interval and stale threshold', async () => {
    const clock = new SimulatedClock(0);
    const { m } = await monitorWith(clock, 'h-per-actor');
    const fast = idle();
    const slow = idle();
    m.register(fast, { key: 'fast', intervalMs: 100 }); // stale after 300
    m.register(slow, { key: 'slow', intervalMs: 1000 }); // stale after 3000
    m.beat(fast);
    m.beat(slow);
    await clock.advance(400);
    assert.equal(stateOf(m, 'fast'), 'stale');
    assert.equal(stateOf(m, 'slow'), 'active');
    assert.equal(m.get('slow')!.staleAfterMs, 3000);
    assert.equal(m.get('fast')!.failAfterMs, 300, 'failAfterMs defaults to 3 intervals');
  });

  test('an abnormal exit is failed, a normal or shutdown exit is stopped, with the reason recorded', async () => {
    const clock = new SimulatedClock(0);
    const { m } = await monitorWith(clock, 'h-exit');
    const crash = idle();
    const quit = idle();
    m.register(crash, { key: 'crash' });
    m.register(quit, { key: 'quit' });
    m.beat(crash);
    exit(crash, Exit.error(new RangeError('boom')));
    send(quit, 'stop');
    await until(
      () => m.get('crash')!.state === 'failed' && m.get('quit')!.state === 'stopped',
      'exits recorded',
    );
    assert.equal(m.get('crash')!.cause, 'exited');
    assert.equal(m.get('crash')!.lastExitReason, '{error, RangeError: boom}');
    assert.equal(m.get('quit')!.lastExitReason, 'normal');
    await clock.advance(10_000);
    assert.equal(m.get('quit')!.state, 'stopped', 'no deadline applies to an exited actor');
  });

  test('a beat that arrives before the registration (a child beating in its init) counts', async () => {
    const clock = new SimulatedClock(0);
    const { m } = await monitorWith(clock, 'h-early');
    const c = spawn(async (ctx) => {
      heartbeat(ctx, 'h-early');
      await ctx.receive((x) => x === 'stop');
    });
    stops.push(async () => {
      exit(c, 'kill');
      await awaitExit(c);
    });
    await settle();
    assert.equal(m.register(c, { key: 'c' }).state, 'active');
    assert.equal(m.get('c')!.beats, 1);
  });

  test('beats and registrations also work as messages and calls (the path from other threads)', async () => {
    const clock = new SimulatedClock(0);
    const { m } = await monitorWith(clock, 'h-msg');
    const d = idle();
    const rec = await healthRequest<{ state: string }>(m.pid, {
      op: 'register',
      pid: d,
      options: { key: 'd', intervalMs: 50 },
    });
    assert.equal(rec.state, 'initializing');
    send(m.pid, { type: '$health_beat', pid: d });
    await until(() => m.get('d')!.state === 'active', 'beat message handled');
    const list = await healthRecords(m.pid);
    assert.deepEqual(
      list.map((r) => [r.key, r.state]),
      [['d', 'active']],
    );
  });

  test('bad input is refused with ERR_INVALID_HEALTH_OPTIONS or ERR_HEALTH_KEY_TAKEN, and the monitor lives on', async () => {
    const clock = new SimulatedClock(0);
    const { m } = await monitorWith(clock, 'h-bad');
    const e = idle();
    const f = idle();
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as { code?: string }).code;
      }
      return 'no error';
    };
    assert.equal(
      code(() => m.register(e, { intervalMs: 100, staleAfterMs: 50 })),
      'ERR_INVALID_HEALTH_OPTIONS',
    );
    assert.equal(
      code(() => m.register(e, { intervalMs: -1 })),
      'ERR_INVALID_HEALTH_OPTIONS',
    );
    assert.equal(
      code(() => m.register(e, { policy: 'explode' as never })),
      'ERR_INVALID_HEALTH_OPTIONS',
    );
    assert.equal(
      code(() => m.register(e, { policy: 'escalate' })),
      'ERR_INVALID_HEALTH_OPTIONS',
    );
    assert.equal(
      code(() => m.register('nope' as Pid)),
      'ERR_INVALID_HEALTH_OPTIONS',
    );
    m.register(e, { key: 'shared' });
    assert.equal(
      code(() => m.register(f, { key: 'shared' })),
      'ERR_HEALTH_KEY_TAKEN',
    );
    await assert.rejects(healthRequest(m.pid, { op: 'register', pid: f, options: { key: 'shared' } }), {
      code: 'ERR_HEALTH_KEY_TAKEN',
    });
    await assert.rejects(healthRequest(m.pid, { op: 'nonsense' } as never), {
      code: 'ERR_INVALID_HEALTH_OPTIONS',
    });
    assert.equal(findHealthMonitor('h-bad'), m, 'still running after bad requests');
    await assert.rejects(healthRequest('no-such-monitor', { op: 'list' }), {
      code: 'ERR_HEALTH_MONITOR_NOT_FOUND',
    });
  });

  test('restarts and last exit reasons per child id come from the supervisor events', async () => {
    const clock = new SimulatedClock(0);
    const { m } = await monitorWith(clock, 'h-sup');
    const incarnations: Pid[] = [];
    const sup = await startSupervisor(
      {
        flags: { intensity: 10, periodMs: 1000 },
        children: [
          monitoredChild(
            {
              id: 'w',
              start: serverChild(beater),
              args: [{ intervalMs: 50, monitor: 'h-sup', onInit: (p: Pid) => incarnations.push(p) }],
            },
            { monitor: 'h-sup', intervalMs: 50 },
          ),
        ],
      },
      { clock },
    );
    stops.push(async () => {
      const done = awaitExit(sup);
      exit(sup, Exit.shutdown());
      await done;
    });
    await clock.advance(60);
    assert.equal(m.get('w')!.state, 'active');
    exit(incarnations[0]!, 'kill');
    await until(
      () => incarnations.length === 2 && m.get('w')?.pid === incarnations[1],
      'first restart registered',
    );
    exit(incarnations[1]!, Exit.error(new TypeError('bad')));
    await until(
      () => incarnations.length === 3 && m.get('w')?.pid === incarnations[2],
      'second restart registered',
    );
    await until(() => m.children().find((c) => c.id === 'w')?.restarts === 2, 'events handled');
    const stats = m.children().find((c) => c.id === 'w')!;
    assert.equal(stats.supervisor, sup);
    assert.equal(stats.pid, incarnations[2]);
    assert.equal(stats.lastExitReason, '{error, TypeError: bad}');
    const rec = m.get('w')!;
    assert.equal(rec.restarts, 2);
    assert.equal(rec.lastExitReason, '{error, TypeError: bad}');
    assert.equal(rec.state, 'initializing', 'a new incarnation starts over');
    await clock.advance(60);
    assert.equal(m.get('w')!.state, 'active');
    assert.equal(await call(incarnations[2]!, 'work'), 1);
  });
});
