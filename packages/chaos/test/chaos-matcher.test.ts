/**
 * The matching rule between injected faults and observed exits and restarts (matcher.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExitRecord, FaultRecord, RestartRecord } from '../src/fault-book.js';
import { matchFaults } from '../src/matcher.js';

const fault = (o: Partial<FaultRecord>): FaultRecord => ({
  index: 0,
  kind: 'worker-sigkill',
  run: 'B',
  atMs: 1000,
  group: 'pool-a',
  target: '100',
  status: 'effective',
  fatal: true,
  expect: ['ERR_WORKER_EXITED'],
  ...o,
});
const exit = (o: Partial<ExitRecord>): ExitRecord => ({
  run: 'B',
  group: 'pool-a',
  target: '100',
  atMs: 1100,
  code: 'ERR_WORKER_EXITED',
  ...o,
});
const restart = (o: Partial<RestartRecord>): RestartRecord => ({
  run: 'B',
  group: 'pool-a',
  target: '101',
  atMs: 1500,
  ...o,
});
const settled = { B: Number.POSITIVE_INFINITY };

describe('fault matching', () => {
  test('one effective fault, one exit with the predicted code, one restart: ok', () => {
    const r = matchFaults({
      faults: [fault({})],
      exits: [exit({})],
      restarts: [restart({})],
      windowEnd: settled,
    });
    assert.equal(r.ok, true);
    assert.equal(r.groups[0]!.exits, 1);
  });

  test('an exit nobody caused is flagged, and so is a fault that never showed', () => {
    const unexplained = matchFaults({
      faults: [fault({})],
      exits: [exit({}), exit({ target: '200' })],
      restarts: [restart({}), restart({ target: '201' })],
      windowEnd: settled,
    });
    assert.equal(unexplained.ok, false);
    assert.deepEqual(
      unexplained.groups[0]!.unexplained.map((e) => e.target),
      ['200'],
    );
    const missing = matchFaults({ faults: [fault({})], exits: [], restarts: [], windowEnd: settled });
    assert.equal(missing.ok, false);
    assert.equal(missing.groups[0]!.missing.length, 1);
  });

  test('a wrong exit code and a missing restart are flagged', () => {
    const code = matchFaults({
      faults: [fault({})],
      exits: [exit({ code: 'ERR_HEARTBEAT_MISSED' })],
      restarts: [restart({})],
      windowEnd: settled,
    });
    assert.equal(code.ok, false);
    assert.equal(code.groups[0]!.codeMismatch.length, 1);
    const noRestart = matchFaults({
      faults: [fault({})],
      exits: [exit({})],
      restarts: [],
      windowEnd: settled,
    });
    assert.equal(noRestart.ok, false);
  });

  test('faults on doomed or dead targets expect nothing; two faults on one target expect one exit', () => {
    const r = matchFaults({
      faults: [
        fault({ index: 1 }),
        fault({ index: 2, status: 'absorbed-doomed', expect: [] }),
        fault({ index: 3, target: '300', status: 'absorbed-dead', expect: [] }),
      ],
      exits: [exit({})],
      restarts: [restart({})],
      windowEnd: settled,
    });
    assert.equal(r.ok, true);
  });

  test('a SIGKILL on a stopped (doomed) worker may give the exit its code', () => {
    const stop = fault({ index: 1, kind: 'worker-sigstop-long', expect: ['ERR_HEARTBEAT_MISSED'] });
    const kill = fault({ index: 2, status: 'absorbed-doomed', expect: ['ERR_WORKER_EXITED'] });
    const r = matchFaults({
      faults: [stop, kill],
      exits: [exit({ code: 'ERR_WORKER_EXITED' })],
      restarts: [restart({})],
      windowEnd: settled,
    });
    assert.equal(r.ok, true);
    const without = matchFaults({
      faults: [stop],
      exits: [exit({ code: 'ERR_WORKER_EXITED' })],
      restarts: [restart({})],
      windowEnd: settled,
    });
    assert.equal(without.ok, false, 'without the second fault the code is wrong');
  });

  test('in a killed run, faults and restarts too recent to show are cut, not missing', () => {
    const r = matchFaults({
      faults: [fault({ run: 'A', atMs: 9000 }), fault({ run: 'A', atMs: 2000, target: '200' })],
      exits: [exit({ run: 'A', target: '200', atMs: 2100 })],
      restarts: [],
      windowEnd: { A: 10_000 },
    });
    const g = r.groups[0]!;
    assert.equal(g.cut, 1);
    assert.equal(g.missing.length, 0);
    assert.equal(r.ok, true, 'the restart of the exit at 2.1 s could still be pending at 10 s');
    const tooSlow = matchFaults({
      faults: [fault({ run: 'A', atMs: 2000 })],
      exits: [exit({ run: 'A', atMs: 2100 })],
      restarts: [],
      windowEnd: { A: 60_000 },
    });
    assert.equal(tooSlow.ok, false, 'a restart 58 s overdue is missing');
  });

  test('a fault still landing when its host was killed explains an exit but is never required', () => {
    const pending = fault({
      run: 'A',
      status: 'pending',
      kind: 'worker-sigstop-long',
      expect: ['ERR_HEARTBEAT_MISSED'],
    });
    const shown = matchFaults({
      faults: [pending],
      exits: [exit({ run: 'A', code: 'ERR_HEARTBEAT_MISSED' })],
      restarts: [restart({ run: 'A' })],
      windowEnd: { A: 60_000 },
    });
    assert.equal(shown.ok, true, 'the exit is explained by the pending fault');
    const notShown = matchFaults({ faults: [pending], exits: [], restarts: [], windowEnd: { A: 60_000 } });
    assert.equal(notShown.ok, true);
    assert.equal(notShown.groups[0]!.cut, 1);
  });

  test('each leak is followed by its recycle, and no recycle comes without a leak', () => {
    const leak = fault({ kind: 'tool-leak', fatal: false, expect: ['max_rss'] });
    const recycle = { run: 'B', group: 'pool-a', target: '100', atMs: 2000, reason: 'max_rss' };
    const ok = matchFaults({
      faults: [leak],
      exits: [],
      restarts: [],
      recycles: [recycle],
      windowEnd: settled,
    });
    assert.equal(ok.ok, true);
    assert.equal(ok.groups[0]!.recycles, 1);
    const missing = matchFaults({
      faults: [leak],
      exits: [],
      restarts: [],
      recycles: [],
      windowEnd: settled,
    });
    assert.equal(missing.groups[0]!.missingRecycles.length, 1);
    assert.equal(missing.ok, false);
    const stray = matchFaults({
      faults: [],
      exits: [],
      restarts: [],
      recycles: [recycle],
      windowEnd: settled,
    });
    assert.equal(stray.groups[0]!.unexplainedRecycles.length, 1);
    assert.equal(stray.ok, false);
  });

  test('an unexpected fault fails the match by itself', () => {
    const r = matchFaults({
      faults: [fault({ status: 'unexpected', fatal: false })],
      exits: [],
      restarts: [],
      windowEnd: settled,
    });
    assert.equal(r.ok, false);
  });
});
