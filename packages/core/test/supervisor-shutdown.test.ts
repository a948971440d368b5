/**
 * Supervisor shutdown and start failure beyond the single statements: mixed shutdown specs in one
 * tree, nested start failures, children killed during their start, and a killed supervisor.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  defineServer,
  Exit,
  exit,
  isAlive,
  type Pid,
  SimulatedClock,
  type SupervisorStartError,
  serverChild,
  settle,
  startSupervisor,
  supervisorChild,
  whichChildren,
} from '../src/index.js';
import {
  assertClean,
  childPid,
  idle,
  rawChild,
  recorder,
  stopSup,
  stubborn,
} from './fixtures/app-otp-kit.js';

afterEach(assertClean);

describe('supervisor shutdown', () => {
  test('mixed shutdown specs: reverse start order, each child stopped as its spec says', async () => {
    const clock = new SimulatedClock();
    const log: string[] = [];
    const rec = recorder(log);
    const sup = await startSupervisor(
      {
        children: [
          { id: 'a', shutdown: 1000, start: serverChild(rec), args: ['a', { trap: true }] },
          { id: 'b', shutdown: 'infinity', start: serverChild(rec), args: ['b', { trap: true }] },
          { id: 'c', shutdown: 'brutal_kill', start: stubborn(log, 'c') },
          { id: 'd', shutdown: 200, start: stubborn(log, 'd') },
        ],
      },
      { clock },
    );
    log.length = 0;
    const gone = stopSup(sup);
    await settle();
    // d is first and holds up the rest until its 200 ms are over.
    assert.deepEqual(log, ['d got shutdown']);
    await clock.advance(200);
    assert.deepEqual(await gone, Exit.shutdown());
    assert.deepEqual(log, [
      'd got shutdown',
      'd died killed',
      'c died killed',
      'terminate b shutdown',
      'terminate a shutdown',
    ]);
    assert.equal(clock.now(), 200);
  });

  test('a nested supervisor failing to start fails the outer start with its reason', async () => {
    const log: string[] = [];
    const rec = recorder(log);
    const err = await startSupervisor({
      children: [
        { id: 'first', start: serverChild(rec), args: ['first', { trap: true }] },
        {
          id: 'inner',
          type: 'supervisor',
          start: supervisorChild({
            children: [
              { id: 'i1', start: serverChild(rec), args: ['i1', { trap: true }] },
              { id: 'i2', start: serverChild(rec), args: ['i2', { failInit: 'i2 broken' }] },
            ],
          }),
        },
      ],
    }).then(
      () => assert.fail('started'),
      (e: SupervisorStartError) => e,
    );
    assert.deepEqual(log, ['init first', 'init i1', 'terminate i1 shutdown', 'terminate first shutdown']);
    const inner = (err.reason as { detail: { failedToStartChild: string; reason: unknown } }).detail;
    assert.equal(inner.failedToStartChild, 'inner');
    const innermost = (inner.reason as { detail: { failedToStartChild: string; reason: { cause: Error } } })
      .detail;
    assert.equal(innermost.failedToStartChild, 'i2');
    assert.equal(innermost.reason.cause.message, 'i2 broken');
  });

  test('a child killed while its start is still running fails the supervisor start instead of hanging it', async () => {
    const holder: { pid?: Pid } = {};
    const slowInit = defineServer({
      init: (ctx) => {
        holder.pid = ctx.self;
        return new Promise<never>(() => {});
      },
    });
    const starting = startSupervisor({
      children: [
        { id: 'ok', start: rawChild(idle) },
        { id: 'slow', start: serverChild(slowInit) },
      ],
    });
    await settle();
    assert.ok(holder.pid);
    exit(holder.pid, 'kill');
    await assert.rejects(starting, (e: SupervisorStartError) => {
      assert.equal(e.code, 'ERR_SUPERVISOR_START_FAILED');
      assert.deepEqual(e.reason, Exit.shutdown({ failedToStartChild: 'slow', reason: Exit.killed }));
      return true;
    });
  });

  test('a killed supervisor takes its children down and leaves no timer behind', async () => {
    const clock = new SimulatedClock();
    const sup = await startSupervisor(
      {
        children: [
          { id: 'plain', start: rawChild(idle) },
          { id: 'b', start: rawChild(idle), backoff: { minMs: 60_000, maxMs: 60_000 } },
        ],
      },
      { clock },
    );
    const plain = await childPid(sup, 'plain');
    exit(await childPid(sup, 'b'), Exit.error(new Error('crash')));
    await settle();
    assert.equal((await whichChildren(sup))[1]!.pid, 'restarting');
    assert.equal(clock.pending, 1);
    const reasons = Promise.all([awaitExit(sup), awaitExit(plain)]);
    exit(sup, 'kill');
    assert.deepEqual(await reasons, [Exit.killed, Exit.killed]);
    assert.equal(clock.pending, 0, 'the backoff timer outlived its supervisor');
    assert.equal(isAlive(plain), false);
  });
});
