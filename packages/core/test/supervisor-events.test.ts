/**
 * Supervisor events: an actor subscribed to its node's event bus receives them as `$sup_event`
 * messages (child started, exited with reason, restarted, intensity reached, shutdown).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  currentNode,
  Exit,
  eventBus,
  type Pid,
  SimulatedClock,
  type SupervisorEvent,
  type SupervisorEventMessage,
  serverChild,
  settle,
  startChild,
  startSupervisor,
} from '../src/index.js';
import {
  assertClean,
  childPid,
  crash,
  drain,
  kill,
  puppet,
  recorder,
  stopSup,
} from './fixtures/app-otp-kit.js';

afterEach(() => {
  assertClean();
  assert.equal(eventBus(currentNode()).active, false, 'a listener or subscriber was left on the bus');
});

/** The events in the watcher's mailbox, as [type, id?, detail?] rows. */
async function received(watcher: Pid): Promise<SupervisorEvent[]> {
  const msgs = (await drain(watcher)) as SupervisorEventMessage[];
  for (const m of msgs) assert.equal(m.type, '$sup_event');
  return msgs.map((m) => m.event);
}

function row(e: SupervisorEvent): unknown[] {
  switch (e.type) {
    case 'supervisor_started':
      return [e.type, e.strategy];
    case 'child_started':
      return [e.type, e.id, e.childType];
    case 'child_start_failed':
      return [e.type, e.id, e.reason.type];
    case 'child_exited':
    case 'child_terminated':
      return [e.type, e.id, e.reason];
    case 'child_restarted':
      return [e.type, e.id, e.restarts];
    case 'child_restart_scheduled':
      return [e.type, e.id, e.delayMs];
    case 'intensity_reached':
      return [e.type, e.intensity, e.periodMs];
    case 'supervisor_shutdown':
      return [e.type, e.reason];
  }
}

describe('supervisor events', () => {
  test('a subscribed actor receives started, exited (with reason), restarted, intensity reached and shutdown', async () => {
    const watcher = puppet();
    eventBus(currentNode()).subscribe(watcher);
    const clock = new SimulatedClock();
    const rec = recorder([]);
    const sup = await startSupervisor(
      {
        flags: { intensity: 1, periodMs: 1000 },
        children: [
          { id: 'w', start: serverChild(rec), args: ['w'] },
          { id: 'x', start: serverChild(rec), args: ['x'] },
        ],
      },
      { clock, name: 'observed' },
    );
    const w1 = await crash(sup, 'w');
    const w2 = await childPid(sup, 'w');
    const x = await childPid(sup, 'x');
    const gone = awaitExit(sup);
    await crash(sup, 'w');
    assert.deepEqual(await gone, Exit.shutdown());
    const events = await received(watcher);
    for (const e of events) {
      assert.equal(e.supervisor, sup);
      assert.equal(e.supervisorName, 'observed');
      assert.equal(typeof e.at, 'number');
    }
    const crashReason = (n: number) => (events[n] as { reason: { cause: Error } }).reason;
    assert.deepEqual(events.map(row), [
      ['child_started', 'w', 'worker'],
      ['child_started', 'x', 'worker'],
      ['supervisor_started', 'one_for_one'],
      ['child_exited', 'w', crashReason(3)],
      ['child_restarted', 'w', 1],
      ['child_exited', 'w', crashReason(5)],
      ['intensity_reached', 1, 1000],
      ['child_terminated', 'x', Exit.shutdown()],
      ['supervisor_shutdown', Exit.shutdown()],
    ]);
    assert.equal(crashReason(3).cause.message, 'crash w');
    assert.equal((events[3] as { pid: Pid }).pid, w1);
    assert.deepEqual((events[4] as { pid: Pid; oldPid: Pid }).oldPid, w1);
    assert.deepEqual((events[4] as { pid: Pid }).pid, w2);
    assert.equal((events[7] as { pid: Pid }).pid, x);
    await kill(watcher);
  });

  test('start failures and orderly stops are reported too', async () => {
    const watcher = puppet();
    eventBus(currentNode()).subscribe(watcher);
    const sup = await startSupervisor({});
    await assert.rejects(
      startChild(sup, { id: 'bad', start: serverChild(recorder([])), args: ['bad', { failInit: 'no' }] }),
    );
    await stopSup(sup);
    assert.deepEqual((await received(watcher)).map(row), [
      ['supervisor_started', 'one_for_one'],
      ['child_start_failed', 'bad', 'error'],
      ['supervisor_shutdown', Exit.shutdown()],
    ]);
    await kill(watcher);
  });

  test('a subscriber is dropped when it exits; unsubscribe stops delivery', async () => {
    const bus = eventBus(currentNode());
    const a = puppet();
    const b = puppet();
    bus.subscribe(a);
    bus.subscribe(a); // once only
    bus.subscribe(b);
    bus.unsubscribe(b);
    const sup = await startSupervisor({});
    await stopSup(sup);
    assert.equal((await received(a)).length, 2);
    assert.deepEqual(await received(b), []);
    await kill(a, b);
    assert.equal(bus.active, false);
  });

  test('a listener that throws does not disturb the supervisor', async () => {
    const bus = eventBus(currentNode());
    const seen: string[] = [];
    const offBad = bus.on(() => {
      throw new Error('faulty listener');
    });
    const offGood = bus.on((e) => seen.push(e.type));
    const sup = await startSupervisor({
      children: [{ id: 'w', start: serverChild(recorder([])), args: ['w'] }],
    });
    await crash(sup, 'w');
    await settle();
    await stopSup(sup);
    offBad();
    offGood();
    assert.deepEqual(seen, [
      'child_started',
      'supervisor_started',
      'child_exited',
      'child_restarted',
      'child_terminated',
      'supervisor_shutdown',
    ]);
  });
});
