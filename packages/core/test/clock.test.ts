/**
 * The injectable clock: SimulatedClock (what the OTP tests run on) and systemClock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_TIMER_MS, SimulatedClock, settle, systemClock } from '../src/index.js';

describe('SimulatedClock', () => {
  test('time only moves on advance; timers fire in time order, ties in creation order', async () => {
    const clock = new SimulatedClock(1000);
    const fired: [string, number][] = [];
    const at = (label: string) => () => fired.push([label, clock.now()]);
    clock.setTimeout(at('c@300'), 300);
    clock.setTimeout(at('a@100'), 100);
    clock.setTimeout(at('b1@200'), 200);
    clock.setTimeout(at('b2@200'), 200);
    assert.equal(clock.now(), 1000);
    assert.equal(clock.pending, 4);
    await settle();
    assert.deepEqual(fired, []);
    await clock.advance(250);
    // Each timer sees now() at its own due time.
    assert.deepEqual(fired, [
      ['a@100', 1100],
      ['b1@200', 1200],
      ['b2@200', 1200],
    ]);
    assert.equal(clock.now(), 1250);
    await clock.advance(50);
    assert.deepEqual(fired.at(-1), ['c@300', 1300]);
    assert.equal(clock.pending, 0);
  });

  test('clearTimeout cancels; a negative delay counts as 0', async () => {
    const clock = new SimulatedClock();
    const fired: string[] = [];
    const h = clock.setTimeout(() => fired.push('cancelled'), 10);
    clock.setTimeout(() => fired.push('negative'), -5);
    clock.clearTimeout(h);
    clock.clearTimeout(h);
    await clock.advance(0);
    assert.deepEqual(fired, ['negative']);
    await clock.advance(100);
    assert.deepEqual(fired, ['negative']);
  });

  test('timers set while advancing fire in the same advance when due, after promise callbacks ran', async () => {
    const clock = new SimulatedClock();
    const fired: [string, number][] = [];
    clock.setTimeout(() => {
      fired.push(['first', clock.now()]);
      // A promise chain (as actor code would run) schedules the next timer.
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => clock.setTimeout(() => fired.push(['chained', clock.now()]), 50));
    }, 100);
    await clock.advance(200);
    assert.deepEqual(fired, [
      ['first', 100],
      ['chained', 150],
    ]);
    assert.equal(clock.now(), 200);
    // Not due yet inside the window: stays pending.
    clock.setTimeout(() => fired.push(['late', clock.now()]), 500);
    await clock.advance(499);
    assert.equal(fired.length, 2);
    await clock.advance(1);
    assert.deepEqual(fired.at(-1), ['late', 700]);
  });

  test('settle lets queued promise callbacks and immediates run', async () => {
    const seen: string[] = [];
    void Promise.resolve().then(() => seen.push('microtask'));
    setImmediate(() => seen.push('immediate'));
    await settle();
    assert.deepEqual(seen, ['microtask', 'immediate']);
  });
});

describe('systemClock', () => {
  test('now() is monotonic milliseconds', () => {
    let prev = systemClock.now();
    for (let i = 0; i < 1000; i++) {
      const t = systemClock.now();
      assert.ok(t >= prev);
      prev = t;
    }
  });

  test('timers fire, and clearTimeout cancels them', async () => {
    const fired: string[] = [];
    const cancelled = systemClock.setTimeout(() => fired.push('cancelled'), 1);
    systemClock.clearTimeout(cancelled);
    await new Promise<void>((resolve) =>
      systemClock.setTimeout(() => {
        fired.push('fired');
        resolve();
      }, 5),
    );
    assert.deepEqual(fired, ['fired']);
  });

  test('a timer longer than Node allows (2^31-1 ms) waits instead of firing after 1 ms', async () => {
    assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
    let longFired = false;
    const long = systemClock.setTimeout(() => {
      longFired = true;
    }, MAX_TIMER_MS + 1000);
    // Node would have run an over-long timer after 1 ms: well before this 30 ms reference timer.
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 30));
    assert.equal(longFired, false);
    systemClock.clearTimeout(long);
    // The long timer can be unref'd (the call table does that) and cleared again harmlessly.
    (long as { unref(): unknown }).unref();
    systemClock.clearTimeout(long);
  });
});
