/**
 * The three stale policies with real supervisors: report (nothing is touched), kill (the actor is
 * killed and its supervisor restarts it), escalate (its supervisor is killed and restarted by its
 * own parent). Then the same machinery for the other kinds of actors: a thread actor beating across
 * threads, and a Python process beating through the generic register/beat API (the bridge's path).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn as spawnOs } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  awaitExit,
  call,
  cast,
  defineServer,
  Exit,
  exit,
  isAlive,
  liveThreads,
  noreply,
  type Pid,
  SimulatedClock,
  send,
  serverChild,
  settle,
  startSupervisor,
  supervisorChild,
  threadChild,
} from '@trellis/core';
import {
  findHealthMonitor,
  type HealthEvent,
  type HealthMonitor,
  healthMonitorChild,
  monitoredChild,
} from '../src/index.js';
import { beater } from './beater.js';
import { alive, waitFor } from './helpers.js';

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function startTree(
  children: Parameters<typeof startSupervisor>[0]['children'],
  clock?: SimulatedClock,
): Promise<Pid> {
  const sup = await startSupervisor({ flags: { intensity: 20, periodMs: 10_000 }, children }, { clock });
  stops.push(async () => {
    const done = awaitExit(sup);
    exit(sup, Exit.shutdown());
    await done;
  });
  return sup;
}

function record(m: HealthMonitor, events: HealthEvent[]): void {
  m.on((e) => events.push(e));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await settle();
  assert.ok(cond(), `never happened: ${what}`);
}

/** Real time: the first event matching `pred` (already seen or still to come), with a deadline. */
function nextEvent(
  m: HealthMonitor,
  seen: HealthEvent[],
  pred: (e: HealthEvent) => boolean,
  what: string,
  ms = 10_000,
) {
  const found = seen.find(pred);
  if (found) return Promise.resolve(found);
  return new Promise<HealthEvent>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const off = m.on((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

const timing = { intervalMs: 50, staleAfterMs: 150, failAfterMs: 150, startupTimeoutMs: 500 };

describe('stale policies (simulated clock, real supervisors)', () => {
  test('report: the stale actor is reported, then failed, and left running', async () => {
    const clock = new SimulatedClock(0);
    const pids: Pid[] = [];
    await startTree(
      [
        healthMonitorChild({ name: 'pol-report', scanIntervalMs: 10, persist: false }),
        monitoredChild(
          {
            id: 'w',
            start: serverChild(beater),
            args: [{ intervalMs: 50, monitor: 'pol-report', onInit: (p: Pid) => pids.push(p) }],
          },
          { monitor: 'pol-report', policy: 'report', ...timing },
        ),
      ],
      clock,
    );
    const m = findHealthMonitor('pol-report')!;
    const events: HealthEvent[] = [];
    record(m, events);
    await clock.advance(100);
    assert.equal(m.get('w')!.state, 'active');
    cast(pids[0]!, 'freeze');
    await clock.advance(200);
    assert.equal(m.get('w')!.state, 'stale');
    await clock.advance(200);
    assert.equal(m.get('w')!.state, 'failed');
    assert.ok(isAlive(pids[0]!), 'report only: nobody touched the actor');
    assert.equal(pids.length, 1, 'and it was not restarted');
    assert.equal(events.filter((e) => e.type === 'action').length, 0);
  });

  test('kill: the stale actor is killed and its supervisor restarts it, and the new one is active', async () => {
    const clock = new SimulatedClock(0);
    const pids: Pid[] = [];
    await startTree(
      [
        healthMonitorChild({ name: 'pol-kill', scanIntervalMs: 10, persist: false }),
        monitoredChild(
          {
            id: 'w',
            start: serverChild(beater),
            args: [{ intervalMs: 50, monitor: 'pol-kill', onInit: (p: Pid) => pids.push(p) }],
          },
          { monitor: 'pol-kill', policy: 'kill', ...timing },
        ),
      ],
      clock,
    );
    const m = findHealthMonitor('pol-kill')!;
    const events: HealthEvent[] = [];
    record(m, events);
    await clock.advance(100);
    cast(pids[0]!, 'freeze');
    await clock.advance(200);
    await until(() => pids.length === 2 && m.get('w')?.pid === pids[1], 'restart registered');
    assert.deepEqual(
      events.filter((e) => e.type === 'action').map((e) => e.type === 'action' && [e.action, e.target]),
      [['kill', pids[0]]],
    );
    assert.equal(isAlive(pids[0]!), false);
    const r = m.get('w')!;
    assert.equal(r.restarts, 1);
    assert.equal(r.lastExitReason, 'killed');
    await clock.advance(60);
    assert.equal(m.get('w')!.state, 'active', 'the restarted actor beats again');
    assert.deepEqual(
      events
        .filter((e) => e.type === 'state' && e.pid === pids[1])
        .map((e) => e.type === 'state' && `${e.from}>${e.to}`),
      ['failed>initializing', 'initializing>active'],
    );
    assert.ok((await call<number>(pids[1]!, 'work')) >= 1);
  });

  test("escalate: the stale actor's supervisor is killed and restarted by its own parent", async () => {
    const clock = new SimulatedClock(0);
    const pids: Pid[] = [];
    const top = await startTree(
      [
        healthMonitorChild({ name: 'pol-esc', scanIntervalMs: 10, persist: false }),
        {
          id: 'sub',
          type: 'supervisor',
          start: supervisorChild({
            children: [
              monitoredChild(
                {
                  id: 'w',
                  start: serverChild(beater),
                  args: [{ intervalMs: 50, monitor: 'pol-esc', onInit: (p: Pid) => pids.push(p) }],
                },
                { monitor: 'pol-esc', policy: 'escalate', ...timing },
              ),
            ],
          }),
        },
      ],
      clock,
    );
    const m = findHealthMonitor('pol-esc')!;
    const events: HealthEvent[] = [];
    record(m, events);
    await clock.advance(100);
    const sub0 = m.get('w')!.supervisor as Pid;
    assert.notEqual(sub0, top);
    cast(pids[0]!, 'freeze');
    await clock.advance(200);
    await until(() => pids.length === 2 && m.get('w')?.pid === pids[1], 'subtree restarted');
    assert.deepEqual(
      events.filter((e) => e.type === 'action').map((e) => e.type === 'action' && [e.action, e.target]),
      [['escalate', sub0]],
    );
    assert.equal(isAlive(sub0), false, 'the supervisor was killed');
    assert.equal(isAlive(pids[0]!), false, 'and the stale actor went down with it');
    const sub1 = m.get('w')!.supervisor as Pid;
    assert.notEqual(sub1, sub0);
    assert.ok(isAlive(sub1));
    await until(() => m.children().find((c) => c.id === 'sub')?.restarts === 1, 'top restarted sub');
    assert.equal(m.children().find((c) => c.id === 'sub')!.lastExitReason, 'killed');
    assert.equal(m.get('w')!.restarts, 1);
    await clock.advance(60);
    assert.equal(m.get('w')!.state, 'active');
  });
});

describe('other kinds of actors (real time)', () => {
  test('a thread actor beats across threads; frozen, it is killed and restarted by its supervisor', async () => {
    const url = new URL('./fixtures/thread-beater.js', import.meta.url);
    // Cleanups run last-in first-out: this check runs after the tree is stopped.
    stops.push(() => waitFor(() => liveThreads() === 0, 'threads to end'));
    await startTree([
      healthMonitorChild({ name: 'pol-thread', scanIntervalMs: 10, persist: false }),
      monitoredChild(
        { id: 't', start: threadChild(url), args: [20] },
        {
          monitor: 'pol-thread',
          policy: 'kill',
          kind: 'thread',
          intervalMs: 20,
          // Generous: a loaded machine must not make a healthy thread look stale.
          staleAfterMs: 1000,
          startupTimeoutMs: 10_000,
          appendMonitorPid: true,
        },
      ),
    ]);
    const m = findHealthMonitor('pol-thread')!;
    const events: HealthEvent[] = [];
    record(m, events);
    const first = m.get('t')!.pid as Pid;
    await nextEvent(
      m,
      events,
      (e) => e.type === 'state' && e.pid === first && e.to === 'active',
      'first thread beat',
    );
    assert.notEqual(first.slice(1, first.indexOf('.')), '0', 'the actor lives in another thread');
    send(first, 'freeze');
    await nextEvent(
      m,
      events,
      (e) => e.type === 'action' && e.pid === first && e.action === 'kill',
      'kill of the frozen thread',
    );
    const active = await nextEvent(
      m,
      events,
      (e) => e.type === 'state' && e.key === 't' && e.pid !== first && e.to === 'active',
      'the restarted thread beating',
    );
    assert.equal(m.get('t')!.pid, active.pid);
    assert.equal(m.get('t')!.restarts, 1);
    assert.equal(m.get('t')!.kind, 'thread');
  });

  test('a thread actor beats by the monitor name (names resolve across threads), no pid passed', async () => {
    const url = new URL('./fixtures/thread-beater.js', import.meta.url);
    stops.push(() => waitFor(() => liveThreads() === 0, 'threads to end'));
    await startTree([
      healthMonitorChild({ name: 'pol-byname', scanIntervalMs: 10, persist: false }),
      monitoredChild(
        // The name, not the pid, is what the thread gets: heartbeat(ctx, 'pol-byname') in the thread.
        { id: 't', start: threadChild(url), args: [20, 'pol-byname'] },
        {
          monitor: 'pol-byname',
          kind: 'thread',
          intervalMs: 20,
          staleAfterMs: 1000,
          startupTimeoutMs: 10_000,
        },
      ),
    ]);
    const m = findHealthMonitor('pol-byname')!;
    const events: HealthEvent[] = [];
    record(m, events);
    const pid = m.get('t')!.pid as Pid;
    assert.notEqual(pid.slice(1, pid.indexOf('.')), '0', 'the actor lives in another thread');
    await nextEvent(
      m,
      events,
      (e) => e.type === 'state' && e.pid === pid && e.to === 'active',
      'a beat by name',
    );
    assert.equal(m.get('t')!.state, 'active');
  });

  test('a Python process beats through register/beat; hung, its actor is killed, the process reaped, a new one started', async () => {
    const script = fileURLToPath(new URL('../../test/fixtures/python_beats.py', import.meta.url));
    const venv = fileURLToPath(new URL('../../../../.venv/bin/python', import.meta.url));
    const python = existsSync(venv) ? venv : 'python3';
    const workers: ChildProcess[] = [];
    // The bridge's shape: an actor stands for the worker and calls monitor.beat(itself) on each worker beat.
    const workerActor = defineServer<ChildProcess, []>({
      init(ctx) {
        const child = spawnOs(python, [script, '20', 'trellis-test-marker'], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        workers.push(child);
        createInterface({ input: child.stdout! }).on('line', () =>
          findHealthMonitor('pol-py')?.beat(ctx.self),
        );
        // However the actor ends (a kill included), its worker process goes with it.
        ctx.node.monitor(() => child.kill('SIGKILL'), ctx.self);
        return child;
      },
      handleInfo: (_m, s) => noreply(s),
    });
    stops.push(() => waitFor(() => workers.every((w) => !alive(w.pid!)), 'Python workers gone'));
    await startTree([
      healthMonitorChild({ name: 'pol-py', scanIntervalMs: 10, persist: false }),
      monitoredChild(
        { id: 'py', start: serverChild(workerActor) },
        {
          monitor: 'pol-py',
          policy: 'kill',
          kind: 'python',
          intervalMs: 20,
          staleAfterMs: 1000,
          startupTimeoutMs: 10_000,
        },
      ),
    ]);
    const m = findHealthMonitor('pol-py')!;
    const events: HealthEvent[] = [];
    record(m, events);
    const first = m.get('py')!.pid as Pid;
    await nextEvent(
      m,
      events,
      (e) => e.type === 'state' && e.pid === first && e.to === 'active',
      'first Python beat',
    );
    process.kill(workers[0]!.pid!, 'SIGUSR1');
    await nextEvent(
      m,
      events,
      (e) => e.type === 'state' && e.pid === first && e.to === 'stale',
      'the hung worker turning stale',
    );
    await nextEvent(
      m,
      events,
      (e) => e.type === 'state' && e.key === 'py' && e.pid !== first && e.to === 'active',
      'the new worker beating',
      20_000,
    );
    assert.equal(workers.length, 2);
    await waitFor(() => !alive(workers[0]!.pid!), 'the hung Python process to be reaped');
    assert.equal(m.get('py')!.lastExitReason, 'killed');
    assert.equal(m.get('py')!.kind, 'python');
  });
});
