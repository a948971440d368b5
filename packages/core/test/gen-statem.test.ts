/**
 * gen_statem, ported from gen_statem_SUITE: both callback modes, call/cast, state enter calls
 * (state_enter), postpone, inserted events (next_event), event / state / generic time-outs, stop and
 * stop_and_reply, sys, supervision, and a gen_statem as a thread actor. Handlers match events
 * exhaustively with ts-pattern. Time-outs run on a SimulatedClock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { match, P } from 'ts-pattern';
import {
  awaitExit,
  type CallError,
  call,
  cancelTimeout,
  cast,
  defineStatem,
  Exit,
  eventTimeout,
  genericTimeout,
  getState,
  getStatus,
  keepState,
  keepStateAndData,
  nextEvent,
  nextState,
  type Pid,
  postpone,
  repeatStateAndData,
  replyAction,
  SimulatedClock,
  type StatemEvent,
  send,
  settle,
  startStatem,
  startSupervisor,
  statemChild,
  stateTimeout,
  stopServer,
  stopStatem,
  trace,
  whichChildren,
} from '../src/index.js';
import { spawnThread } from '../src/thread/thread-actor.js';
import { assertClean, kill, stopSup } from './fixtures/app-otp-kit.js';
import { captureLogs } from './fixtures/log-capture.js';
import { fixture, noThreadsLeft } from './fixtures/thread-helpers.js';

afterEach(async () => {
  await noThreadsLeft();
  assertClean();
});

// ---- a switch in handle_event_function mode, with a log of what it saw ---------------------------

type Sw = 'off' | 'on';
type SwCall = 'get' | 'flip' | 'log';
type SwEv = StatemEvent<SwCall, 'flip' | 'defer', unknown>;

function lightSwitch(opts: { enter?: boolean } = {}) {
  return defineStatem<Sw, string[], [], SwEv>({
    callbackMode: 'handle_event_function',
    stateEnter: opts.enter === true,
    init: () => nextState<Sw, string[]>('off', []),
    handleEvent: (ev, state, log) =>
      match(ev)
        .with({ type: 'enter' }, (e) => keepState([...log, `enter ${state} from ${e.oldState}`]))
        .with({ type: 'call', content: 'get' }, (e) => keepStateAndData([replyAction(e.from, state)]))
        .with({ type: 'call', content: 'log' }, (e) => keepStateAndData([replyAction(e.from, log)]))
        .with({ type: 'call', content: 'flip' }, (e) =>
          nextState<Sw, string[]>(
            state === 'off' ? 'on' : 'off',
            [...log, 'flip'],
            [replyAction(e.from, 'flipped')],
          ),
        )
        .with({ type: 'cast', content: 'flip' }, () =>
          nextState<Sw, string[]>(state === 'off' ? 'on' : 'off', [...log, 'cast flip']),
        )
        // Postponed while off; retried after the next state change.
        .with({ type: 'cast', content: 'defer' }, () =>
          state === 'off' ? keepStateAndData([postpone()]) : keepState([...log, 'deferred handled in on']),
        )
        .with({ type: P.union('info', 'timeout', 'state_timeout', 'generic_timeout', 'internal') }, () =>
          keepStateAndData(),
        )
        .exhaustive(),
  });
}

describe('gen_statem: callback modes, call and cast', () => {
  test('handle_event_function: call, cast and replies from actions', async () => {
    const pid = (await startStatem(lightSwitch(), [])) as Pid;
    assert.equal(await call(pid, 'get'), 'off');
    assert.equal(await call(pid, 'flip'), 'flipped');
    cast(pid, 'flip');
    assert.equal(await call(pid, 'get'), 'off');
    assert.deepEqual(await call(pid, 'log'), ['flip', 'cast flip']);
    await stopServer(pid);
  });

  test('state_functions: one handler per state; as a supervised child', async () => {
    const clock = new SimulatedClock();
    const sup = await startSupervisor(
      { children: [{ id: 'door', start: statemChild(doorMachine()), args: ['1234', 1000] }] },
      { clock },
    );
    const [door] = await whichChildren(sup);
    const pid = door!.pid as Pid;
    cast(pid, { button: '0000' });
    assert.deepEqual(await call(pid, 'state'), ['locked', 1]);
    cast(pid, { button: '1234' });
    assert.deepEqual(await call(pid, 'state'), ['open', 1]);
    await clock.advance(1000);
    assert.deepEqual(await call(pid, 'state'), ['locked', 1]);
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
  });
});

function doorMachine() {
  type Ev = StatemEvent<'state', { button: string }, unknown>;
  return defineStatem<
    'locked' | 'open',
    { code: string; openMs: number; tries: number },
    [string, number],
    Ev
  >({
    callbackMode: 'state_functions',
    init: (_ctx, code, openMs) => nextState('locked', { code, openMs, tries: 0 }),
    states: {
      locked: (ev, data) =>
        match(ev)
          .with({ type: 'cast' }, (e) =>
            e.content.button === data.code
              ? nextState('open' as const, data, [stateTimeout(data.openMs, 'lock')])
              : keepState({ ...data, tries: data.tries + 1 }),
          )
          .with({ type: 'call' }, (e) => keepStateAndData([replyAction(e.from, ['locked', data.tries])]))
          .otherwise(() => keepStateAndData()),
      open: (ev, data) =>
        match(ev)
          .with({ type: 'state_timeout', content: 'lock' }, () => nextState('locked' as const, data))
          .with({ type: 'call' }, (e) => keepStateAndData([replyAction(e.from, ['open', data.tries])]))
          .otherwise(() => keepStateAndData()),
    },
  });
}

describe('gen_statem: state enter, postpone, inserted events', () => {
  test('state_enter: an enter call on start (old state = the state) and after each change, not on keep', async () => {
    const pid = (await startStatem(lightSwitch({ enter: true }), [])) as Pid;
    await call(pid, 'flip');
    await call(pid, 'get'); // keep: no enter call
    await call(pid, 'flip');
    assert.deepEqual(await call(pid, 'log'), [
      'enter off from off',
      'flip',
      'enter on from off',
      'flip',
      'enter off from on',
    ]);
    await stopServer(pid);
  });

  test('repeat_state runs the enter call again without changing state', async () => {
    const m = defineStatem<'s', number, [], StatemEvent<'again' | 'get'>>({
      callbackMode: 'handle_event_function',
      stateEnter: true,
      init: () => nextState('s' as const, 0),
      handleEvent: (ev, _s, n) =>
        match(ev)
          .with({ type: 'enter' }, () => keepState(n + 1))
          .with({ type: 'call', content: 'again' }, (e) => repeatStateAndData([replyAction(e.from, 'ok')]))
          .with({ type: 'call', content: 'get' }, (e) => keepStateAndData([replyAction(e.from, n)]))
          .otherwise(() => keepStateAndData()),
    });
    const pid = (await startStatem(m, [])) as Pid;
    await call(pid, 'again');
    await call(pid, 'again');
    assert.equal(await call(pid, 'get'), 3);
    await stopServer(pid);
  });

  test('postpone: a postponed event is retried after the next state change, in order, before newer ones', async () => {
    const pid = (await startStatem(lightSwitch(), [])) as Pid;
    cast(pid, 'defer');
    cast(pid, 'defer');
    assert.deepEqual(await call(pid, 'log'), []);
    cast(pid, 'flip'); // off -> on: both deferred casts are retried now
    assert.deepEqual(await call(pid, 'log'), [
      'cast flip',
      'deferred handled in on',
      'deferred handled in on',
    ]);
    await stopServer(pid);
  });

  test('nextEvent: inserted events are handled before anything in the mailbox, in the order given', async () => {
    const seen: unknown[] = [];
    const m = defineStatem<'s', null, [], StatemEvent<'go' | 'seen'>>({
      callbackMode: 'handle_event_function',
      init: () => nextState('s' as const, null),
      handleEvent: (ev) => {
        if (ev.type === 'call' && ev.content === 'seen')
          return keepStateAndData([replyAction(ev.from, seen)]);
        if (ev.type !== 'enter') seen.push([ev.type, 'content' in ev ? ev.content : undefined]);
        if (ev.type === 'cast')
          return keepStateAndData([nextEvent('internal', 'i1'), nextEvent('internal', 'i2')]);
        return keepStateAndData();
      },
    });
    const pid = (await startStatem(m, [])) as Pid;
    cast(pid, 'c1');
    cast(pid, 'c2');
    assert.deepEqual(await call(pid, 'seen'), [
      ['cast', 'c1'],
      ['internal', 'i1'],
      ['internal', 'i2'],
      ['cast', 'c2'],
      ['internal', 'i1'],
      ['internal', 'i2'],
    ]);
    await stopServer(pid);
  });
});

describe('gen_statem: time-outs', () => {
  /** Records every event; commands set time-outs. */
  function timed(seen: unknown[]) {
    return defineStatem<
      string,
      null,
      [],
      StatemEvent<unknown, { set: string; ms?: number; to?: string } | string>
    >({
      callbackMode: 'handle_event_function',
      init: () => nextState('a', null),
      handleEvent: (ev, state) => {
        if (ev.type === 'enter') return keepStateAndData();
        seen.push([
          state,
          ev.type,
          'name' in ev ? ev.name : undefined,
          'content' in ev ? ev.content : undefined,
        ]);
        if (ev.type !== 'cast' || typeof ev.content !== 'object') {
          if (ev.type === 'cast' && typeof ev.content === 'string') return nextState(ev.content, null);
          return keepStateAndData();
        }
        const c = ev.content;
        const ms = c.ms ?? 0;
        const action = match(c.set)
          .with('event', () => eventTimeout(ms, 'ev'))
          .with('state', () => stateTimeout(ms, 'st'))
          .with('generic', () => genericTimeout('g', ms, 'gen'))
          .with('cancel-state', () => cancelTimeout('state_timeout'))
          .with('cancel-generic', () => cancelTimeout({ name: 'g' }))
          .otherwise(() => eventTimeout(Number.POSITIVE_INFINITY));
        return c.to === undefined ? keepStateAndData([action]) : nextState(c.to, null, [action]);
      },
    });
  }

  async function machine(clock: SimulatedClock, seen: unknown[]): Promise<Pid> {
    return (await startStatem(timed(seen), [], { clock })) as Pid;
  }

  test('event time-out: fires after T with no event; any event cancels it', async () => {
    const clock = new SimulatedClock();
    const seen: unknown[] = [];
    const pid = await machine(clock, seen);
    cast(pid, { set: 'event', ms: 100 });
    await settle();
    await clock.advance(100);
    assert.deepEqual(seen.at(-1), ['a', 'timeout', undefined, 'ev']);
    cast(pid, { set: 'event', ms: 100 });
    await clock.advance(50);
    send(pid, 'poke');
    await clock.advance(200);
    assert.deepEqual(seen.slice(-2), [
      ['a', 'cast', undefined, { set: 'event', ms: 100 }],
      ['a', 'info', undefined, 'poke'],
    ]);
    await stopServer(pid);
  });

  test('event time-out 0 fires at once when nothing is queued', async () => {
    const clock = new SimulatedClock();
    const seen: unknown[] = [];
    const pid = await machine(clock, seen);
    cast(pid, { set: 'event', ms: 0 });
    await settle();
    assert.deepEqual(seen.at(-1), ['a', 'timeout', undefined, 'ev']);
    await stopServer(pid);
  });

  test('state time-out: survives events in the same state, cancelled by a state change', async () => {
    const clock = new SimulatedClock();
    const seen: unknown[] = [];
    const pid = await machine(clock, seen);
    cast(pid, { set: 'state', ms: 100 });
    await clock.advance(50);
    send(pid, 'poke'); // an event, same state: the state time-out stays
    await clock.advance(50);
    assert.deepEqual(seen.at(-1), ['a', 'state_timeout', undefined, 'st']);
    cast(pid, { set: 'state', ms: 100 });
    await clock.advance(50);
    cast(pid, 'b'); // state change: cancelled
    await clock.advance(200);
    assert.deepEqual(seen.at(-1), ['a', 'cast', undefined, 'b']);
    // One set in the transition that changes state applies to the new state.
    cast(pid, { set: 'state', ms: 100, to: 'c' });
    await clock.advance(100);
    assert.deepEqual(seen.at(-1), ['c', 'state_timeout', undefined, 'st']);
    await stopServer(pid);
  });

  test('generic time-out: survives state changes, set again replaces it, cancel stops it', async () => {
    const clock = new SimulatedClock();
    const seen: unknown[] = [];
    const pid = await machine(clock, seen);
    cast(pid, { set: 'generic', ms: 100 });
    await clock.advance(50);
    cast(pid, 'b');
    await clock.advance(50);
    assert.deepEqual(seen.at(-1), ['b', 'generic_timeout', 'g', 'gen']);
    cast(pid, { set: 'generic', ms: 100 });
    await clock.advance(80);
    cast(pid, { set: 'generic', ms: 100 }); // restarts it
    await clock.advance(80);
    assert.notDeepEqual(seen.at(-1)?.[1 as never], 'generic_timeout');
    await clock.advance(20);
    assert.deepEqual(seen.at(-1), ['b', 'generic_timeout', 'g', 'gen']);
    cast(pid, { set: 'generic', ms: 100 });
    cast(pid, { set: 'cancel-generic' });
    await clock.advance(500);
    assert.deepEqual(seen.at(-1), ['b', 'cast', undefined, { set: 'cancel-generic' }]);
    await stopServer(pid);
  });
});

describe('gen_statem: stop, sys, crash reports, threads', () => {
  test('stop_and_reply answers the caller and terminates with the reason', async () => {
    const m = defineStatem<'s', number, [], StatemEvent<'quit'>>({
      callbackMode: 'handle_event_function',
      init: () => nextState('s' as const, 7),
      handleEvent: (ev) =>
        ev.type === 'call'
          ? stopStatem(Exit.shutdown('asked'), 8, [replyAction(ev.from, 'bye')])
          : keepStateAndData(),
      terminate: (reason, state, data) => {
        terminated.push([reason, state, data]);
      },
    });
    const terminated: unknown[] = [];
    const pid = (await startStatem(m, [])) as Pid;
    const gone = awaitExit(pid);
    assert.equal(await call(pid, 'quit'), 'bye');
    assert.deepEqual(await gone, Exit.shutdown('asked'));
    assert.deepEqual(terminated, [[Exit.shutdown('asked'), 's', 8]]);
  });

  test('getState and getStatus show { state, data }; formatStatus hides secrets; a crash is reported', async () => {
    const logs = captureLogs();
    try {
      const m = defineStatem<'idle', { token: string }, [], StatemEvent<'crash'>>({
        callbackMode: 'handle_event_function',
        init: () => nextState('idle' as const, { token: 's3cret' }),
        handleEvent: () => {
          throw new Error('statem boom');
        },
        formatStatus: (st) => ({ ...st, state: { ...st.state, data: { token: '***' } } }),
      });
      const pid = (await startStatem(m, [], { name: 'sm' })) as Pid;
      assert.deepEqual(await getState(pid), { state: 'idle', data: { token: 's3cret' } });
      const st = await getStatus('sm');
      assert.equal(st.behaviour, 'gen_statem');
      assert.equal(st.stateName, 'idle');
      assert.deepEqual(st.state, { state: 'idle', data: { token: '***' } });
      const gone = awaitExit(pid);
      await assert.rejects(call(pid, 'crash'), (e: CallError) => e.code === 'ERR_CALL_SERVER_EXITED');
      await gone;
      const rep = logs.records.find((r) => r.report === 'gen_statem_terminate');
      assert.ok(rep);
      assert.equal(rep.stateName, 'idle');
      assert.ok(!JSON.stringify(logs.records).includes('s3cret'));
    } finally {
      logs.restore();
    }
  });

  test('trace records show each new state and data through formatStatus, as getStatus does', async () => {
    const logs = captureLogs();
    try {
      const m = defineStatem<'idle' | 'busy', { token: string; n: number }, [], StatemEvent<'go'>>({
        callbackMode: 'handle_event_function',
        init: () => nextState('idle' as const, { token: 's3cret', n: 0 }),
        handleEvent: (ev, _state, data) =>
          ev.type === 'call'
            ? nextState('busy' as const, { ...data, n: data.n + 1 }, [replyAction(ev.from, 'ok')])
            : keepStateAndData(),
        formatStatus: (st) => ({ ...st, state: { ...st.state, data: { ...st.state.data, token: '***' } } }),
      });
      const pid = (await startStatem(m, [])) as Pid;
      await trace(pid, true);
      await call(pid, 'go');
      await trace(pid, false);
      const traced = logs.records.filter((r) => r.report === 'sys_trace' && r.event === 'state');
      assert.deepEqual(
        traced.map((r) => [r.stateName, r.state]),
        [['busy', { state: 'busy', data: { token: '***', n: 1 } }]],
      );
      assert.ok(!JSON.stringify(logs.records).includes('s3cret'), 'the secret reached the log');
      await stopServer(pid);
    } finally {
      logs.restore();
    }
  });

  test('a gen_statem as a thread actor: call, cast and its state time-out in its own thread', async () => {
    const pid = (await spawnThread(fixture('thread-statem'), { args: ['42', 20] })) as Pid;
    cast(pid, { button: '42' });
    assert.deepEqual(await call(pid, 'state'), ['open', 0]);
    // Postponed in 'open' until the state time-out locks the door again.
    const st = await call(pid, 'await_locked');
    assert.deepEqual(st, ['locked', 0]);
    assert.equal((await getStatus(pid)).behaviour, 'gen_statem');
    await kill(pid);
  });
});
