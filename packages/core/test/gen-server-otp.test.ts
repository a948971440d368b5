/**
 * gen_server features ported from gen_server_SUITE: stop/1,3 (stop1..stop10), start_link with a
 * timeout (start timeout), handle_continue (continue), {timeout, T} results, hibernate, init's ignore
 * and {stop, Reason} under a supervisor, sys (get_state, replace_state, get_status, trace), and the
 * crash report (error_logger / logger report with last message and format_status'd state).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  type CallError,
  call,
  cast,
  defineServer,
  Exit,
  type ExitReason,
  exit,
  getState,
  getStatus,
  isAlive,
  noreply,
  ok,
  type Pid,
  replaceState,
  reply,
  SimulatedClock,
  StartTimeoutError,
  send,
  serverChild,
  settle,
  startServer,
  startSupervisor,
  stop,
  stopServer,
  TIMEOUT,
  type TrellisError,
  trace,
  whereis,
  whichChildren,
} from '../src/index.js';
import { assertClean, deferred, drain, kill, puppet, run, stopSup } from './fixtures/app-otp-kit.js';
import { captureLogs } from './fixtures/log-capture.js';

afterEach(assertClean);

/** A server that logs its terminate and can be told to block in it. */
function stoppable(log: unknown[], block?: Promise<void>, crashInTerminate = false) {
  return defineServer({
    init: (ctx, trap: boolean) => {
      if (trap) ctx.trapExit(true);
      return 0;
    },
    handleCall: (_req: unknown, _from, s: number) => reply(s, s),
    terminate: async (reason: ExitReason) => {
      log.push(['terminate', reason]);
      if (block) await block;
      if (crashInTerminate) throw new Error('terminate crashed');
    },
  });
}

describe('stopServer (gen_server:stop/1,3)', () => {
  test('stop/1: an unsupervised server runs terminate with normal and exits normal', async () => {
    const log: unknown[] = [];
    const pid = (await startServer(stoppable(log), [false])) as Pid;
    const gone = awaitExit(pid);
    await stopServer(pid);
    assert.deepEqual(log, [['terminate', Exit.normal]]);
    assert.deepEqual(await gone, Exit.normal);
    assert.equal(isAlive(pid), false);
  });

  test('stop/3: by name, with a reason, which terminate and the monitors see', async () => {
    const log: unknown[] = [];
    const pid = (await startServer(stoppable(log), [false], { name: 'stoppable' })) as Pid;
    const gone = awaitExit(pid);
    await stopServer('stoppable', Exit.shutdown('maintenance'), 1000);
    assert.deepEqual(log, [['terminate', Exit.shutdown('maintenance')]]);
    assert.deepEqual(await gone, Exit.shutdown('maintenance'));
  });

  test('stop/3 rejects with ERR_STOP_TIMEOUT when terminate does not finish in time; the server lives on', async () => {
    const clock = new SimulatedClock();
    const release = deferred();
    const log: unknown[] = [];
    const pid = (await startServer(stoppable(log, release.promise), [false], { clock })) as Pid;
    const stopping = assert.rejects(
      stopServer(pid, Exit.normal, 100, clock),
      (e: TrellisError) => e.code === 'ERR_STOP_TIMEOUT',
    );
    await settle();
    await clock.advance(99);
    assert.deepEqual(log, [['terminate', Exit.normal]]);
    await clock.advance(1);
    await stopping;
    assert.equal(isAlive(pid), true);
    const gone = awaitExit(pid);
    release.resolve();
    assert.deepEqual(await gone, Exit.normal);
  });

  test('stop of a dead pid or an unknown name rejects with ERR_NOPROC', async () => {
    const pid = (await startServer(stoppable([]), [false])) as Pid;
    await stopServer(pid);
    await assert.rejects(stopServer(pid), (e: TrellisError) => e.code === 'ERR_NOPROC');
    await assert.rejects(stopServer('no-such-server'), (e: TrellisError) => e.code === 'ERR_NOPROC');
  });

  test('a terminate that crashes makes stop reject with the crash as the exit reason', async () => {
    const logs = captureLogs();
    try {
      const pid = (await startServer(stoppable([], undefined, true), [false])) as Pid;
      const gone = awaitExit(pid);
      await assert.rejects(stopServer(pid), (e: CallError) => e.code === 'ERR_CALL_SERVER_EXITED');
      const r = await gone;
      assert.equal(r.type, 'error');
    } finally {
      logs.restore();
    }
  });

  test('a supervised child stopped with stopServer is restarted per its restart type', async () => {
    const sup = await startSupervisor({
      children: [{ id: 'c', start: serverChild(stoppable([])), args: [false], restart: 'transient' }],
    });
    const [c] = await whichChildren(sup);
    await stopServer(c!.pid as Pid);
    await settle();
    // transient + normal: not restarted (OTP).
    assert.deepEqual(
      (await whichChildren(sup)).map((x) => x.pid),
      [undefined],
    );
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
  });
});

describe('start timeout (start_link with {timeout, T})', () => {
  test('init that does not return in time: the start rejects with ERR_START_TIMEOUT and the server is killed', async () => {
    const clock = new SimulatedClock();
    const never = new Promise<never>(() => undefined);
    const slow = defineServer({ init: () => never });
    const parent = puppet({ trapExit: true });
    let pid: Pid | undefined;
    const starting = run(parent, async (ctx) => {
      const p = startServer(slow, [], { link: ctx.self, clock, startTimeoutMs: 500, name: 'slow' });
      pid = ctx.whereis('slow');
      return p.then(
        () => 'started',
        (e: TrellisError) => e,
      );
    });
    await settle();
    assert.ok(pid !== undefined && isAlive(pid));
    const gone = awaitExit(pid);
    await clock.advance(499);
    assert.equal(isAlive(pid), true);
    await clock.advance(1);
    const err = await starting;
    assert.ok(err instanceof StartTimeoutError);
    assert.equal(err.code, 'ERR_START_TIMEOUT');
    assert.deepEqual(await gone, Exit.killed);
    // The parent was unlinked first: it gets no EXIT for the child it never had (proc_lib kill_flush).
    assert.deepEqual(await drain(parent), []);
    await kill(parent);
  });

  test('init that returns in time is unaffected by the start timeout', async () => {
    const clock = new SimulatedClock();
    const pid = (await startServer(stoppable([]), [false], { clock, startTimeoutMs: 500 })) as Pid;
    await clock.advance(1000);
    assert.equal(await call(pid, 'x'), 0);
    await stopServer(pid);
  });

  test('under a supervisor, a start timeout is a start failure', async () => {
    const slow = defineServer({ init: () => new Promise<never>(() => undefined) });
    const clock = new SimulatedClock();
    const starting = assert.rejects(
      startSupervisor(
        { children: [{ id: 'slow', start: serverChild(slow, { startTimeoutMs: 50 }) }] },
        { clock },
      ),
      (e: TrellisError) => {
        assert.equal(e.code, 'ERR_SUPERVISOR_START_FAILED');
        assert.equal((e.cause as TrellisError).code, 'ERR_START_TIMEOUT');
        return true;
      },
    );
    await settle();
    await clock.advance(50);
    await starting;
  });
});

describe('init results under a supervisor', () => {
  test('{stop, Reason} from init fails start_link with Reason and the process exits with it', async () => {
    const logs = captureLogs();
    try {
      const refusing = defineServer({ init: () => stop(Exit.shutdown('no config'), undefined) });
      const parent = puppet({ trapExit: true });
      const r = await run(parent, (ctx) =>
        startServer(refusing, [], { link: ctx.self }).then(
          () => 'started',
          (e: { reason: ExitReason }) => e.reason,
        ),
      );
      assert.deepEqual(r, Exit.shutdown('no config'));
      const exits = await drain(parent);
      assert.deepEqual(
        exits.map((m) => (m as { reason: unknown }).reason),
        [Exit.shutdown('no config')],
      );
      await kill(parent);
    } finally {
      logs.restore();
    }
  });
});

describe('handleContinue ({continue, C})', () => {
  type S = string[];
  const continuing = defineServer({
    init: () => ok<S>(['init'], { continue: 'c1' }),
    handleContinue: (arg: string, s: S) =>
      arg === 'c1' ? noreply([...s, arg], { continue: 'c2' }) : noreply([...s, arg]),
    handleCall: (req: 'get' | 'again', _from, s: S) =>
      req === 'get' ? reply<S, unknown>(s, s) : reply<S, unknown>('ok', [...s, 'again'], { continue: 'c3' }),
    handleCast: (m: string, s: S) => noreply([...s, m]),
  });

  test('a continue from init runs before any message, also one queued during init; continues chain', async () => {
    const pid = (await startServer(continuing, [])) as Pid;
    // The cast is queued before the continues have run (the start resolved right after init).
    cast(pid, 'cast');
    assert.deepEqual(await call(pid, 'get'), ['init', 'c1', 'c2', 'cast']);
    await stopServer(pid);
  });

  test('a continue from handleCall runs after the reply and before the next message', async () => {
    const pid = (await startServer(continuing, [])) as Pid;
    assert.equal(await call(pid, 'again'), 'ok');
    cast(pid, 'next');
    assert.deepEqual(await call(pid, 'get'), ['init', 'c1', 'c2', 'again', 'c3', 'next']);
    await stopServer(pid);
  });

  test('a continue without handleContinue crashes the server (ERR_NO_HANDLER)', async () => {
    const logs = captureLogs();
    try {
      const b = defineServer({ init: () => ok(0, { continue: 'x' }) });
      const starting = startServer(b, [], { name: 'no-continue' });
      const gone = awaitExit(whereis('no-continue')!);
      await starting;
      const r = await gone;
      assert.equal(r.type, 'error');
      assert.equal(((r as { cause: TrellisError }).cause as TrellisError).code, 'ERR_NO_HANDLER');
    } finally {
      logs.restore();
    }
  });
});

describe('{ timeout } in results, and hibernate', () => {
  const idle = defineServer({
    init: () => [] as unknown[],
    handleCall: (req: 'arm' | 'get' | 'sleep', _from, s: unknown[]) =>
      req === 'arm'
        ? reply<unknown[], unknown>('armed', s, { timeout: 100 })
        : req === 'sleep'
          ? reply<unknown[], unknown>('zz', s, { hibernate: true })
          : reply<unknown[], unknown>(s, s),
    handleInfo: (m: unknown, s: unknown[]) => noreply([...s, m === TIMEOUT ? 'timeout' : m]),
  });

  test('the timeout message arrives after T ms of no message', async () => {
    const clock = new SimulatedClock();
    const pid = (await startServer(idle, [], { clock })) as Pid;
    assert.equal(await call(pid, 'arm'), 'armed');
    await clock.advance(99);
    await clock.advance(1);
    assert.deepEqual(await call(pid, 'get'), ['timeout']);
    await stopServer(pid);
  });

  test('any message before T cancels the timeout', async () => {
    const clock = new SimulatedClock();
    const pid = (await startServer(idle, [], { clock })) as Pid;
    await call(pid, 'arm');
    await clock.advance(50);
    send(pid, 'hello');
    await clock.advance(200);
    assert.deepEqual(await call(pid, 'get'), ['hello']);
    await stopServer(pid);
  });

  test('hibernate: getStatus says hibernated until the next message, and the server works on', async () => {
    const pid = (await startServer(idle, [])) as Pid;
    assert.equal(await call(pid, 'sleep'), 'zz');
    assert.equal((await getStatus(pid)).status, 'hibernated');
    assert.deepEqual(await call(pid, 'get'), []);
    assert.equal((await getStatus(pid)).status, 'running');
    await stopServer(pid);
  });
});

describe('sys: getState, replaceState, getStatus, trace', () => {
  interface Conn {
    host: string;
    password: string;
    n: number;
  }
  const secretive = defineServer({
    init: (): Conn => ({ host: 'db', password: 'hunter2', n: 0 }),
    handleCall: (req: 'inc' | 'crash', _from, s: Conn) => {
      if (req === 'crash') throw new Error('boom');
      return reply(s.n + 1, { ...s, n: s.n + 1 });
    },
    formatStatus: (st) => ({ ...st, state: { ...st.state, password: '***' } }),
  });

  test('getState is the raw state; replaceState changes it between callbacks; handleCall never sees them', async () => {
    const pid = (await startServer(secretive, [], { name: 'conn' })) as Pid;
    assert.deepEqual(await getState(pid), { host: 'db', password: 'hunter2', n: 0 });
    assert.deepEqual(await replaceState<Conn>('conn', (s) => ({ ...s, n: 41 })), {
      host: 'db',
      password: 'hunter2',
      n: 41,
    });
    assert.equal(await call(pid, 'inc'), 42);
    // A StateFun that throws leaves the state alone and fails the caller.
    await assert.rejects(
      replaceState<Conn>(pid, () => {
        throw new Error('bad fun');
      }),
      /bad fun/,
    );
    assert.equal((await getState<Conn>(pid)).n, 42);
    await stopServer(pid);
  });

  test('getStatus shows the state through formatStatus (the secret is hidden)', async () => {
    const pid = (await startServer(secretive, [], { name: 'conn2' })) as Pid;
    const st = await getStatus('conn2');
    assert.deepEqual(st, {
      pid,
      name: 'conn2',
      behaviour: 'gen_server',
      status: 'running',
      parent: st.parent,
      trace: false,
      messageQueueLength: 0,
      state: { host: 'db', password: '***', n: 0 },
    });
    await stopServer(pid);
  });

  test('trace logs every message in, every reply out and each new state until turned off', async () => {
    const logs = captureLogs();
    try {
      const pid = (await startServer(secretive, [])) as Pid;
      await trace(pid, true);
      await call(pid, 'inc');
      await trace(pid, false);
      await call(pid, 'inc');
      const events = logs.records
        .filter((r) => r.report === 'sys_trace')
        .map((r) => [r.event, r.msg === undefined ? undefined : r.event]);
      const traced = logs.records.filter((r) => r.report === 'sys_trace');
      assert.deepEqual(
        traced.map((r) => r.event),
        ['in', 'out', 'state', 'in'],
        JSON.stringify(events),
      );
      assert.deepEqual((traced[0]!.msg as unknown) !== undefined, true);
      assert.equal(traced[1]!.reply, 1);
      assert.equal((traced[2]!.state as Conn).n, 1);
      // The new state as formatStatus shows it: the trace shares the log that reports keep secrets out of.
      assert.equal((traced[2]!.state as Conn).password, '***');
      assert.ok(!JSON.stringify(logs.records).includes('hunter2'), 'the secret reached the log');
      // The last 'in' is the trace-off request itself.
      await stopServer(pid);
    } finally {
      logs.restore();
    }
  });

  test('an unsupervised server that crashes leaves a crash report on the logger, secrets hidden', async () => {
    const logs = captureLogs();
    try {
      const pid = (await startServer(secretive, [], { name: 'crashy' })) as Pid;
      const gone = awaitExit(pid);
      await assert.rejects(call(pid, 'crash'), (e: CallError) => e.code === 'ERR_CALL_SERVER_EXITED');
      await gone;
      const term = logs.records.find((r) => r.report === 'gen_server_terminate');
      assert.ok(term, 'no gen_server_terminate report');
      assert.equal(term.level, 'error');
      assert.equal(term.actor, pid);
      assert.equal(term.name, 'crashy');
      assert.equal(term.reason, '{error, Error: boom}');
      assert.deepEqual((term.lastMessage as { request: unknown }).request, 'crash');
      assert.deepEqual(term.state, { host: 'db', password: '***', n: 0 });
      assert.ok(!JSON.stringify(logs.records).includes('hunter2'), 'the secret reached the log');
      const crash = logs.records.find((r) => r.report === 'crash_report');
      assert.ok(crash, 'no crash_report');
      assert.equal(crash.actor, pid);
      assert.equal(crash.initialCall, 'gen_server');
    } finally {
      logs.restore();
    }
  });

  test('a normal stop leaves no crash report', async () => {
    const logs = captureLogs();
    try {
      const pid = (await startServer(secretive, [])) as Pid;
      await stopServer(pid, Exit.shutdown());
      assert.deepEqual(
        logs.records.filter((r) => r.level === 'error'),
        [],
      );
    } finally {
      logs.restore();
    }
  });

  test('sys requests to a server killed meanwhile fail like calls', async () => {
    const pid = (await startServer(secretive, [])) as Pid;
    await kill(pid);
    await assert.rejects(getState(pid), (e: CallError) => e.code === 'ERR_NOPROC');
    exit(pid, 'kill');
  });
});
