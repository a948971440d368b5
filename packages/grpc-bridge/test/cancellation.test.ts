/**
 * Cancellation and deadlines reach Python: an AbortSignal or a time-out cancels the gRPC call, the
 * tool sees it through its context (reported through a side-channel file), and the worker goes on
 * serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ToolPool } from '../src/index.js';
import {
  ALL_TOOLS,
  openTestRun,
  readFlag,
  rejectsWith,
  type TestRun,
  waitFor,
  waitForFlag,
} from './helpers.js';

let run: TestRun;
let pool: ToolPool;

before(async () => {
  run = await openTestRun();
  // One worker, so "the worker still serves" is about the very process that saw the cancellation.
  pool = await ToolPool.start({ tools: ALL_TOOLS, size: 1, concurrency: 4, name: 'cancel' });
});

after(async () => {
  await pool.stop();
  await run.close();
});

describe('AbortSignal', () => {
  test('aborting a sync tool cancels the RPC and the tool sees ctx.cancelled', async () => {
    const flag = run.flag();
    const ac = new AbortController();
    const call = pool.call('wait_cancel', { flag }, { signal: ac.signal });
    await waitForFlag(flag, 'started');
    const reason = new Error('user pressed stop');
    ac.abort(reason);
    const err = await rejectsWith<Error & { cause?: unknown }>(call, 'ERR_CANCELLED');
    assert.equal(err.cause, reason);
    await waitForFlag(flag, 'cancelled');
  });

  test('aborting an async tool cancels its task', async () => {
    const flag = run.flag();
    const ac = new AbortController();
    const call = pool.call('await_cancel', { flag }, { signal: ac.signal });
    await waitForFlag(flag, 'started');
    ac.abort();
    await rejectsWith(call, 'ERR_CANCELLED');
    await waitForFlag(flag, 'cancelled');
  });

  test('an already-aborted signal fails at once without reaching a worker', async () => {
    const before = pool.stats().calls.started;
    await rejectsWith(pool.call('add', { a: 1, b: 1 }, { signal: AbortSignal.abort() }), 'ERR_CANCELLED');
    assert.equal(pool.stats().calls.started, before + 1);
    assert.equal(pool.stats().inFlight, 0);
  });

  test('aborting a stream cancels the generator', async () => {
    const flag = run.flag();
    const ac = new AbortController();
    const s = pool.stream('chunks', { n: 100_000, size: 16, flag }, { signal: ac.signal, highWaterMark: 2 });
    assert.equal((await s.next()).done, false);
    ac.abort();
    await assert.rejects(
      async () => {
        for await (const _ of s) {
          // drain what was buffered before the cancellation
        }
      },
      (e: Error & { code?: string }) => e.code === 'ERR_CANCELLED',
    );
    await waitForFlag(flag, /^closed:/);
  });
});

describe('deadline', () => {
  test('a tool that runs past timeoutMs fails with ERR_DEADLINE_EXCEEDED, sees the cancellation, and the worker serves the next call', async () => {
    const flag = run.flag();
    const t0 = Date.now();
    const err = await rejectsWith<Error & { tool: string }>(
      pool.call('wait_cancel', { flag, seconds: 30 }, { timeoutMs: 300 }),
      'ERR_DEADLINE_EXCEEDED',
    );
    assert.equal(err.tool, 'wait_cancel');
    assert.match(err.message, /timeoutMs \(300 ms\)/);
    assert.ok(Date.now() - t0 < 10_000, 'failed at the deadline, not at the 30 s the tool wanted');
    await waitForFlag(flag, 'cancelled');
    const pid = pool.stats().workers[0]!.pid;
    assert.equal(await pool.call('add', { a: 20, b: 22 }), 42);
    assert.equal(pool.stats().workers[0]!.pid, pid, 'same worker process, still serving');
  });

  test('an async tool past its deadline is cancelled too', async () => {
    const flag = run.flag();
    await rejectsWith(pool.call('await_cancel', { flag }, { timeoutMs: 200 }), 'ERR_DEADLINE_EXCEEDED');
    await waitForFlag(flag, 'cancelled');
  });

  test('a stream past its deadline fails with ERR_DEADLINE_EXCEEDED', async () => {
    await assert.rejects(
      async () => {
        for await (const _ of pool.stream('count', { n: 1000, delay_ms: 20 }, { timeoutMs: 200 })) {
          // consume
        }
      },
      (e: Error & { code?: string }) => e.code === 'ERR_DEADLINE_EXCEEDED',
    );
  });
});

describe('queued calls', () => {
  test('a stream left while it waits for a worker ends at once; the place it gets later goes back', async () => {
    const p = await ToolPool.start({
      tools: ALL_TOOLS,
      size: 1,
      maxConcurrentPerWorker: 1,
      name: 'cancel-stream-queue',
    });
    const started: string[] = [];
    p.on((e) => {
      if (e.type === 'call_started') started.push(e.tool);
    });
    try {
      const busyFlag = run.flag();
      const stopBusy = new AbortController();
      const busy = p.call('wait_cancel', { flag: busyFlag, seconds: 30 }, { signal: stopBusy.signal });
      await waitForFlag(busyFlag, 'started');
      const succeeded = p.stats().calls.succeeded;
      const s = p.stream('count', { n: 3 });
      const first = s.next();
      await waitFor(() => p.stats().queueDepth === 1, 'the stream to be queued');
      await s.return();
      assert.deepEqual(await first, { value: undefined, done: true });
      // Settled while the worker is still busy (for up to 30 s): not when a place frees up.
      await waitFor(() => p.stats().calls.succeeded === succeeded + 1, 'the left stream to settle', 5_000);
      stopBusy.abort();
      await rejectsWith(busy, 'ERR_CANCELLED');
      // The place the queue gives the left stream goes straight back: with one place, a call that
      // found it still taken would wait in the queue until its time-out.
      assert.equal(await p.call('add', { a: 1, b: 2 }, { timeoutMs: 5_000 }), 3);
      assert.deepEqual(started, ['wait_cancel', 'add'], 'the left stream never ran');
    } finally {
      await p.stop();
    }
  });

  test('a call aborted while queued leaves the queue and never runs', async () => {
    const p = await ToolPool.start({
      tools: ALL_TOOLS,
      size: 1,
      maxConcurrentPerWorker: 1,
      name: 'cancel-queue',
    });
    try {
      const busyFlag = run.flag();
      const stopBusy = new AbortController();
      const busy = p.call('wait_cancel', { flag: busyFlag, seconds: 30 }, { signal: stopBusy.signal });
      await waitForFlag(busyFlag, 'started');
      const flag = run.flag();
      const ac = new AbortController();
      const queued = p.call('wait_cancel', { flag, seconds: 0.01 }, { signal: ac.signal });
      await waitFor(() => p.stats().queueDepth === 1, 'the call to be queued');
      ac.abort();
      await rejectsWith(queued, 'ERR_CANCELLED');
      assert.equal(p.stats().queueDepth, 0);
      // Free the worker; the queue is FIFO, so had the aborted call stayed queued it would run first.
      stopBusy.abort();
      await rejectsWith(busy, 'ERR_CANCELLED');
      assert.equal(await p.call('add', { a: 1, b: 2 }), 3);
      assert.equal(readFlag(flag), undefined, 'the aborted call never started');
    } finally {
      await p.stop();
    }
  });
});
