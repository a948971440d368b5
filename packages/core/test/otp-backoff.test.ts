/**
 * Statements 36-37: Akka-style backoff between restarts, on a SimulatedClock with a fixed random source.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  type BackoffOptions,
  backoffDelay,
  currentNode,
  Exit,
  eventBus,
  exit,
  type Pid,
  resetBackoff,
  SimulatedClock,
  type SupervisorEvent,
  settle,
  spawn,
  startSupervisor,
  whichChildren,
} from '../src/index.js';
import { assertClean, childPid, idle, rawChild, settledFlag, stopSup } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

const S = 1000;

interface Harness {
  readonly sup: Pid;
  readonly clock: SimulatedClock;
  readonly delays: number[];
  /** Crashes the child and returns the delay the supervisor scheduled for its restart. */
  crash(): Promise<number>;
  /** Asserts the child is not restarted before `delay` and is right at it. */
  waitRestart(delay: number): Promise<void>;
  close(): Promise<void>;
}

async function harness(
  backoff: BackoffOptions,
  random = () => 0.5,
  start = rawChild(idle),
): Promise<Harness> {
  const clock = new SimulatedClock();
  const delays: number[] = [];
  const off = eventBus(currentNode()).on((e: SupervisorEvent) => {
    if (e.type === 'child_restart_scheduled') delays.push(e.delayMs);
  });
  const sup = await startSupervisor({ children: [{ id: 'b', start, backoff }] }, { clock, random });
  const state = async () => (await whichChildren(sup))[0]!.pid;
  return {
    sup,
    clock,
    delays,
    async crash() {
      const n = delays.length;
      exit(await childPid(sup, 'b'), Exit.error(new Error('crash')));
      await settle();
      assert.equal(delays.length, n + 1, 'no restart was scheduled');
      return delays[n]!;
    },
    async waitRestart(delay: number) {
      await clock.advance(delay - 1);
      assert.equal(await state(), 'restarting', `restarted before ${delay} ms`);
      await clock.advance(1);
      const pid = await state();
      assert.ok(typeof pid === 'string' && pid !== 'restarting', `not restarted at ${delay} ms`);
    },
    async close() {
      off();
      if (currentNode().procs.has(sup)) await stopSup(sup);
    },
  };
}

describe('backoff', () => {
  test('S36: delay = min(max, min * 2^n) * (1 + random * randomFactor)', () => {
    const opts = { minMs: 3 * S, maxMs: 30 * S, randomFactor: 0, resetAfterMs: 3 * S, maxRetries: Infinity };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(opts, n, () => 0.5)),
      [3 * S, 6 * S, 12 * S, 24 * S, 30 * S, 30 * S],
    );
    const jittered = { ...opts, randomFactor: 0.2 };
    assert.deepEqual(
      [0, 3, 4].map((n) => backoffDelay(jittered, n, () => 0.5)),
      [3300, 26400, 33000],
    );
    assert.equal(
      backoffDelay(jittered, 0, () => 0),
      3000,
    );
  });

  test('S36: with 3 s and 30 s a crashing child is restarted after 3, 6, 12, 24, 30, 30 s', async () => {
    const h = await harness({ minMs: 3 * S, maxMs: 30 * S });
    for (const expected of [3, 6, 12, 24, 30, 30]) {
      assert.equal(await h.crash(), expected * S);
      await h.waitRestart(expected * S);
    }
    assert.deepEqual(h.delays, [3 * S, 6 * S, 12 * S, 24 * S, 30 * S, 30 * S]);
    // The default intensity (1 in 5 s) does not apply to backoff restarts: the supervisor is still up.
    assert.equal(currentNode().procs.has(h.sup), true);
    await h.close();
  });

  test('S36: the random factor stretches each delay by 1 + random * randomFactor', async () => {
    const h = await harness({ minMs: 3 * S, maxMs: 30 * S, randomFactor: 0.5 }, () => 0.5);
    for (const expected of [3750, 7500, 15000, 30000, 37500]) {
      assert.equal(await h.crash(), expected);
      await h.waitRestart(expected);
    }
    await h.close();
  });

  test('S37: the count resets after the child has stayed up for minBackoff', async () => {
    const h = await harness({ minMs: 3 * S, maxMs: 30 * S });
    for (const expected of [3, 6, 12]) {
      assert.equal(await h.crash(), expected * S);
      await h.waitRestart(expected * S);
    }
    // Up for less than 3 s: the count goes on.
    await h.clock.advance(3 * S - 1);
    assert.equal(await h.crash(), 24 * S);
    await h.waitRestart(24 * S);
    // Up for 3 s: back to the first delay.
    await h.clock.advance(3 * S);
    assert.equal(await h.crash(), 3 * S);
    await h.waitRestart(3 * S);
    await h.close();
  });

  test('S37: resetBackoff resets the count explicitly', async () => {
    const h = await harness({ minMs: 3 * S, maxMs: 30 * S });
    for (const expected of [3, 6]) {
      assert.equal(await h.crash(), expected * S);
      await h.waitRestart(expected * S);
    }
    assert.equal(await resetBackoff(h.sup, 'b'), true);
    assert.equal(await h.crash(), 3 * S);
    await h.waitRestart(3 * S);
    await assert.rejects(resetBackoff(h.sup, 'nope'), { code: 'ERR_CHILD_NOT_FOUND' });
    await h.close();
  });

  test('S37: exceeding maxRetries stops the supervisor', async () => {
    const h = await harness({ minMs: 1 * S, maxMs: 10 * S, maxRetries: 2 });
    const gone = awaitExit(h.sup);
    const done = settledFlag(gone);
    for (const expected of [1, 2]) {
      assert.equal(await h.crash(), expected * S);
      await h.waitRestart(expected * S);
    }
    assert.equal(done.done, false);
    // The third consecutive restart would exceed maxRetries 2.
    exit(await childPid(h.sup, 'b'), Exit.error(new Error('crash')));
    assert.deepEqual(await gone, Exit.shutdown({ reachedMaxRetries: 'b' }));
    assert.equal(h.delays.length, 2);
    await h.close();
  });

  test('S37: a restart that fails to start waits for the next backoff delay instead of retrying at once', async () => {
    let attempts = 0;
    let failing = false;
    const h = await harness(
      { minMs: 1 * S, maxMs: 60 * S },
      () => 0.5,
      async (sctx) => {
        attempts++;
        if (failing) throw new Error('dependency down');
        return spawn(idle, { link: sctx.parent });
      },
    );
    failing = true;
    assert.equal(await h.crash(), 1 * S);
    await h.clock.advance(1 * S);
    // The failed start is one more consecutive failure: the next attempt comes 2 s later, then 4 s.
    assert.equal(attempts, 2);
    assert.deepEqual(h.delays, [1 * S, 2 * S]);
    assert.equal((await whichChildren(h.sup))[0]!.pid, 'restarting');
    await h.clock.advance(2 * S);
    assert.equal(attempts, 3);
    assert.deepEqual(h.delays, [1 * S, 2 * S, 4 * S]);
    failing = false;
    await h.waitRestart(4 * S);
    assert.equal(attempts, 4);
    await h.close();
  });

  test('S37: backoff options are validated: minBackoff > 0, maxBackoff >= minBackoff, 0 <= randomFactor <= 1', async () => {
    const bad: [Partial<BackoffOptions>, string][] = [
      [{ minMs: 0, maxMs: 10 }, 'backoff.minMs'],
      [{ minMs: -5, maxMs: 10 }, 'backoff.minMs'],
      [{ minMs: 10, maxMs: 5 }, 'backoff.maxMs'],
      [{ minMs: 10, maxMs: 20, randomFactor: -0.1 }, 'backoff.randomFactor'],
      [{ minMs: 10, maxMs: 20, randomFactor: 1.5 }, 'backoff.randomFactor'],
    ];
    for (const [backoff, field] of bad) {
      await assert.rejects(
        startSupervisor({
          children: [{ id: 'b', start: rawChild(idle), backoff: backoff as BackoffOptions }],
        }),
        (e: Error & { code?: string }) => e.code === 'ERR_INVALID_CHILD_SPEC' && e.message.includes(field),
        field,
      );
    }
    // The edges are valid.
    const sup = await startSupervisor({
      children: [{ id: 'b', start: rawChild(idle), backoff: { minMs: 1, maxMs: 1, randomFactor: 1 } }],
    });
    await stopSup(sup);
  });
});
