/**
 * The call ledger: exactly one outcome per call, and a call that never settles is flagged as lost
 * (a hang) by its harness timer, on an injected clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimulatedClock, settle, TrellisError } from '@trellis/core';
import { CallLedger } from '../src/ledger.js';

describe('call ledger', () => {
  test('a call that never settles is flagged as lost, and stays lost if it ends late', async () => {
    const clock = new SimulatedClock(0);
    const ledger = new CallLedger({ clock, slackMs: 500 });
    let finishLate: (v: number) => void = () => {};
    const never = new Promise<number>((r) => {
      finishLate = r;
    });
    const outcome = ledger.run('stuck.op', 1000, () => never);
    await settle();
    assert.equal(ledger.outstanding, 1);
    await clock.advance(1499);
    assert.equal(ledger.snapshot().hangs, 0, 'not before time-out + slack');
    await clock.advance(1);
    assert.deepEqual(await outcome, { kind: 'hang' });
    const s = ledger.snapshot();
    assert.equal(s.hangs, 1);
    assert.equal(s.byOp['stuck.op']!.hangs, 1);
    assert.equal(s.outstanding, 0, 'it has an outcome now: lost');
    assert.match(s.examples[0]!, /hang: stuck\.op/);
    finishLate(1);
    await settle();
    const after = ledger.snapshot();
    assert.equal(after.late, 1);
    assert.equal(after.ok, 0, 'a lost call is never counted as a success later');
    assert.equal(after.hangs, 1);
  });

  test('each call gets one outcome: ok, clean error, unclean error, wrong result', async () => {
    const clock = new SimulatedClock(0);
    const ledger = new CallLedger({ clock, slackMs: 100 });
    const results = await Promise.all([
      ledger.run('a', 1000, async () => 2),
      ledger.run('b', 1000, async () => {
        throw new TrellisError('ERR_WORKER_EXITED', 'worker died');
      }),
      ledger.run('c', 1000, async () => {
        throw new Error('plain');
      }),
      ledger.run('d', 1000, async () => {
        throw new TrellisError('not-a-code', 'bad code');
      }),
      ledger.run(
        'e',
        1000,
        async () => 3,
        (v) => (v === 4 ? undefined : `expected 4, got ${v}`),
      ),
      ledger.run('f', 1000, () => {
        throw new TrellisError('ERR_SYNC', 'thrown before any promise');
      }),
    ]);
    assert.deepEqual(
      results.map((r) => r.kind),
      ['ok', 'error', 'unclean', 'unclean', 'wrong', 'error'],
    );
    const s = ledger.snapshot();
    assert.equal(s.started, 6);
    assert.equal(s.ok + s.failedClean + s.unclean + s.wrong + s.hangs, 6);
    assert.deepEqual(s.errors, { ERR_WORKER_EXITED: 1, ERR_SYNC: 1 });
    assert.equal(s.outstanding, 0);
    assert.equal(clock.pending, 0, 'every harness timer was cleared');
  });

  test('drain waits for outstanding calls, bounded by its own time-out', async () => {
    const clock = new SimulatedClock(0);
    const ledger = new CallLedger({ clock, slackMs: 10_000 });
    let release: () => void = () => {};
    void ledger.run('slow', 60_000, () => new Promise<void>((r) => (release = r)));
    const drained = ledger.drain(5000);
    await clock.advance(5000);
    assert.equal(await drained, 1, 'still outstanding after the drain time-out');
    const again = ledger.drain(5000);
    release();
    assert.equal(await again, 0);
  });
});
