/**
 * Ported from supervisor_SUITE: check_childspecs and get_childspec; and the supervisor reports OTP's
 * logger gets (child_terminated, start_error, reached_max_restart_intensity, progress).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  cast,
  checkChildSpecs,
  defineServer,
  Exit,
  getChildSpec,
  noreply,
  type Pid,
  type SupervisorRequestError,
  serverChild,
  settle,
  startChild,
  startSupervisor,
  whichChildren,
} from '../src/index.js';
import { assertClean, stopSup } from './fixtures/app-otp-kit.js';
import { captureLogs } from './fixtures/log-capture.js';

afterEach(assertClean);

const worker = defineServer({
  init: () => 0,
  handleCast: (m: 'crash', s: number) => {
    if (m === 'crash') throw new Error('worker crash');
    return noreply(s);
  },
});

describe('checkChildSpecs (check_childspecs/1,2)', () => {
  test('valid specs are ok; each kind of invalid spec is refused with the error a supervisor would give', () => {
    const start = serverChild(worker);
    assert.deepEqual(
      checkChildSpecs([
        { id: 'a', start },
        { id: 'b', start, restart: 'transient' },
      ]),
      { ok: true },
    );
    const codes = [
      checkChildSpecs([
        { id: 'a', start },
        { id: 'a', start },
      ]),
      checkChildSpecs([{ id: 'a', start, restart: 'sometimes' as never }]),
      checkChildSpecs([{ id: 'a' } as never]),
      checkChildSpecs([{ id: 'a', start, restart: 'transient', significant: true }]),
      checkChildSpecs('nope' as never),
    ].map((r) => (r.ok ? 'ok' : r.error.code));
    assert.deepEqual(codes, [
      'ERR_DUPLICATE_CHILD_ID',
      'ERR_INVALID_CHILD_SPEC',
      'ERR_INVALID_CHILD_SPEC',
      'ERR_INVALID_CHILD_SPEC',
      'ERR_INVALID_CHILD_SPEC',
    ]);
    // check_childspecs/2: significant children are fine with an auto_shutdown that uses them.
    assert.deepEqual(
      checkChildSpecs([{ id: 'a', start, restart: 'transient', significant: true }], {
        autoShutdown: 'any_significant',
      }),
      { ok: true },
    );
  });
});

describe('getChildSpec (get_childspec/2)', () => {
  test('by id and by pid, with defaults filled in; unknown ids are not_found', async () => {
    const start = serverChild(worker);
    const sup = await startSupervisor({ children: [{ id: 'w', start, restart: 'transient' }] });
    const spec = await getChildSpec(sup, 'w');
    assert.deepEqual(
      { ...spec, start: undefined },
      {
        id: 'w',
        start: undefined,
        args: [],
        restart: 'transient',
        shutdown: 5000,
        type: 'worker',
        significant: false,
        backoff: undefined,
      },
    );
    assert.equal(spec.start, start);
    const [c] = await whichChildren(sup);
    assert.equal((await getChildSpec(sup, c!.pid as Pid)).id, 'w');
    await assert.rejects(
      getChildSpec(sup, 'nope'),
      (e: SupervisorRequestError) => e.code === 'ERR_CHILD_NOT_FOUND',
    );
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
  });

  test('simple_one_for_one answers the template for a child pid, and refuses ids', async () => {
    const sup = await startSupervisor({
      flags: { strategy: 'simple_one_for_one' },
      children: [{ id: 'tpl', start: serverChild(worker), restart: 'temporary' }],
    });
    const pid = (await startChild(sup, [])) as Pid;
    assert.equal((await getChildSpec(sup, pid)).id, 'tpl');
    await assert.rejects(
      getChildSpec(sup, 'tpl'),
      (e: SupervisorRequestError) => e.code === 'ERR_SIMPLE_ONE_FOR_ONE',
    );
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
  });
});

describe('supervisor reports on the logger', () => {
  test('child_terminated for a crash, progress for each start, reached_max_restart_intensity at the end', async () => {
    const logs = captureLogs();
    try {
      const sup = await startSupervisor(
        { flags: { intensity: 1, periodMs: 60_000 }, children: [{ id: 'w', start: serverChild(worker) }] },
        { name: 'reporting-sup' },
      );
      const gone = awaitExit(sup);
      for (let i = 0; i < 2; i++) {
        const [c] = await whichChildren(sup);
        cast(c!.pid as Pid, 'crash');
        await settle();
      }
      assert.deepEqual(await gone, Exit.shutdown());
      const sups = logs.records.filter((r) => r.report === 'supervisor_report');
      assert.deepEqual(
        sups.map((r) => [r.level, r.errorContext, r.supervisorName]),
        [
          ['error', 'child_terminated', 'reporting-sup'],
          ['error', 'child_terminated', 'reporting-sup'],
          ['error', 'shutdown', 'reporting-sup'],
        ],
      );
      assert.equal(sups[0]!.reason, '{error, Error: worker crash}');
      assert.deepEqual((sups[0]!.offender as { id: string; restart: string }).id, 'w');
      assert.equal(sups[2]!.reason, 'reached_max_restart_intensity');
      const progress = logs.records.filter((r) => r.report === 'progress');
      assert.equal(progress.length, 2); // the start and the one allowed restart
      assert.ok(progress.every((r) => r.level === 'debug'));
    } finally {
      logs.restore();
    }
  });

  test('start_error when a child fails to start', async () => {
    const logs = captureLogs();
    try {
      const failing = defineServer({
        init: () => {
          throw new Error('no db');
        },
      });
      await assert.rejects(startSupervisor({ children: [{ id: 'f', start: serverChild(failing) }] }));
      const r = logs.records.find((x) => x.errorContext === 'start_error');
      assert.ok(r, 'no start_error report');
      assert.equal(r.reason, '{error, Error: no db}');
    } finally {
      logs.restore();
    }
  });
});
