/**
 * The bounded queue: a full queue refuses at once (ERR_POOL_SATURATED), a call that waits too long
 * fails with ERR_QUEUE_TIMEOUT, and a queued call gets the next free worker in FIFO order.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PoolEvent, ToolPool } from '../src/index.js';
import { ALL_TOOLS, openTestRun, rejectsWith, type TestRun, waitFor, waitForFlag } from './helpers.js';

let run: TestRun;
let pool: ToolPool;
const events: PoolEvent[] = [];

before(async () => {
  run = await openTestRun();
  pool = new ToolPool({
    tools: ALL_TOOLS,
    size: 1,
    maxConcurrentPerWorker: 1,
    maxQueue: 2,
    queueTimeoutMs: 400,
    name: 'sat',
  });
  pool.on((e) => events.push(e));
  await pool.start();
});

after(async () => {
  await pool.stop();
  await run.close();
});

/** Occupies the only slot until the returned function is called. */
async function occupy(): Promise<() => Promise<void>> {
  const flag = run.flag();
  const ac = new AbortController();
  const busy = pool.call('wait_cancel', { flag, seconds: 30 }, { signal: ac.signal });
  await waitForFlag(flag, 'started');
  return async () => {
    ac.abort();
    await rejectsWith(busy, 'ERR_CANCELLED');
  };
}

test('a full queue refuses the next call at once with ERR_POOL_SATURATED; queued calls time out with ERR_QUEUE_TIMEOUT', async () => {
  const release = await occupy();
  const q1 = pool.call('add', { a: 1, b: 1 });
  const q2 = pool.call('add', { a: 2, b: 2 });
  await waitFor(() => pool.stats().queueDepth === 2, 'two queued calls');
  const err = await rejectsWith<Error & { details: Record<string, unknown> }>(
    pool.call('add', { a: 3, b: 3 }),
    'ERR_POOL_SATURATED',
  );
  assert.equal(err.details.maxQueue, 2);
  assert.match(err.message, /maxQueue/);
  assert.equal(pool.stats().queueDepth, 2, 'the refused call was never queued');
  assert.equal(pool.stats().queueFull, 1);
  const full = events.find((e) => e.type === 'queue_full') as Extract<PoolEvent, { type: 'queue_full' }>;
  assert.ok(full && full.queueDepth === 2 && full.maxQueue === 2);

  const t1 = await rejectsWith<Error & { details: { waitedMs: number; limitMs: number } }>(
    q1,
    'ERR_QUEUE_TIMEOUT',
  );
  await rejectsWith(q2, 'ERR_QUEUE_TIMEOUT');
  assert.equal(t1.details.limitMs, 400);
  assert.ok(t1.details.waitedMs >= 400);
  assert.equal(pool.stats().queueDepth, 0);
  await release();
});

test("a call's own timeoutMs bounds its wait in the queue when it is shorter than queueTimeoutMs", async () => {
  const release = await occupy();
  const err = await rejectsWith<Error & { details: { limitMs: number } }>(
    pool.call('add', { a: 1, b: 1 }, { timeoutMs: 100 }),
    'ERR_QUEUE_TIMEOUT',
  );
  assert.equal(err.details.limitMs, 100);
  await release();
});

test('queued calls run in order as the worker frees up', async () => {
  const release = await occupy();
  const order: number[] = [];
  const a = pool
    .call<number>('slow_add', { a: 1, b: 0, ms: 0 }, { timeoutMs: 10_000 })
    .then((v) => order.push(v));
  const b = pool
    .call<number>('slow_add', { a: 2, b: 0, ms: 0 }, { timeoutMs: 10_000 })
    .then((v) => order.push(v));
  await waitFor(() => pool.stats().queueDepth === 2, 'two queued calls');
  await release();
  await Promise.all([a, b]);
  assert.deepEqual(order, [1, 2]);
  assert.equal(pool.stats().queueDepth, 0);
});
