/**
 * Recycling by maxCalls, ttlMs and maxRssMb (the Python process's own RSS): a fresh worker takes the
 * place of the old one, which finishes its calls first, and no call fails because of it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PoolEvent, ToolPool } from '../src/index.js';
import { alive, nextEvent, openTestRun, PARITY_TOOLS, type TestRun, waitFor } from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

function record(pool: ToolPool): PoolEvent[] {
  const events: PoolEvent[] = [];
  pool.on((e) => events.push(e));
  return events;
}

/** Runs `total` calls of `pid` with `inFlight` at once; every one must succeed. Returns the PIDs. */
async function load(pool: ToolPool, total: number, inFlight: number): Promise<number[]> {
  const pids: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        next++;
        pids.push((await pool.call('pid', {}, { idempotent: false })) as number);
      }
    }),
  );
  return pids;
}

test('maxCalls: workers are replaced after exactly maxCalls calls, and no call fails', async () => {
  const pool = new ToolPool({ tools: PARITY_TOOLS, size: 2, maxCalls: 10, name: 'recycle-calls' });
  const events = record(pool);
  await pool.start();
  try {
    const pids = await load(pool, 120, 6);
    assert.equal(pids.length, 120);
    await waitFor(() => pool.stats().recycles >= 10, 'at least 10 recycles');
    const s = pool.stats();
    assert.equal(s.calls.failed, 0);
    assert.deepEqual(s.errorsByCode, {});
    assert.equal(s.restarts, 0, 'a recycle is not a restart');
    assert.ok(new Set(pids).size >= 10, `calls ran on ${new Set(pids).size} processes`);
    // No process served more than maxCalls.
    const per = new Map<number, number>();
    for (const p of pids) per.set(p, (per.get(p) ?? 0) + 1);
    assert.ok(
      [...per.values()].every((n) => n <= 10),
      JSON.stringify([...per.values()]),
    );
    assert.equal(events.filter((e) => e.type === 'call_failed').length, 0);
    const recycled = events.filter((e) => e.type === 'worker_recycled');
    assert.ok(recycled.every((e) => e.reason === 'max_calls'));
    // Each retired process is gone; the pool is at full size.
    await waitFor(() => recycled.every((e) => !alive(e.pid)), 'retired workers to exit');
    await waitFor(() => pool.stats().readyWorkers === 2, 'the pool back at full size');
  } finally {
    await pool.stop();
  }
});

test('ttlMs: an old worker is replaced while calls keep running, and no call fails', async () => {
  const pool = new ToolPool({ tools: PARITY_TOOLS, size: 1, ttlMs: 300, name: 'recycle-ttl' });
  const events = record(pool);
  await pool.start();
  try {
    const first = pool.stats().workers[0]!.pid;
    let stop = false;
    const calls = (async () => {
      let n = 0;
      while (!stop && n < 100_000) {
        n++;
        await pool.call('hold', { ms: 20 });
      }
      return n;
    })();
    await waitFor(() => pool.stats().recycles >= 2, 'two TTL recycles');
    stop = true;
    assert.ok((await calls) > 0);
    const recycled = events.filter((e) => e.type === 'worker_recycled');
    assert.equal(recycled[0]!.pid, first);
    assert.ok(recycled.every((e) => e.reason === 'ttl'));
    assert.equal(pool.stats().calls.failed, 0);
  } finally {
    await pool.stop();
  }
});

// maxRssMb is a hard limit since issue 13 (memory-limit.test.ts): the graceful recycle happens above
// softRssRatio (80%) of it, before the worker reaches it.
test('maxRssMb: a worker whose own RSS grows past 80% of the limit is replaced, calls unaffected', async () => {
  const pool = new ToolPool({
    tools: PARITY_TOOLS,
    size: 1,
    maxRssMb: 400,
    heartbeatIntervalMs: 250,
    name: 'recycle-rss',
  });
  await pool.start();
  try {
    const victim = pool.stats().workers[0]!.pid;
    const recycled = nextEvent(pool, (e) => e.type === 'worker_recycled');
    const rss = (await pool.call('grow', { mb: 300 })) as number;
    assert.ok(rss > 320 * 1024 * 1024, `the tool grew the process to ${rss} bytes`);
    // Calls keep succeeding while the replacement starts and the old process retires.
    const during = load(pool, 40, 2);
    const e = (await recycled) as Extract<PoolEvent, { type: 'worker_recycled' }>;
    assert.equal(e.pid, victim);
    assert.equal(e.reason, 'max_rss');
    assert.match(e.detail, /RSS \d+\.\d MiB > 80% of maxRssMb 400/);
    await during;
    await waitFor(() => !alive(victim), 'the bloated worker to exit');
    const fresh = () => pool.stats().workers.find((w) => w.state === 'ready')!;
    assert.notEqual(fresh().pid, victim, JSON.stringify(pool.stats().workers));
    await waitFor(() => fresh().rssBytes !== undefined, 'an RSS reading of the fresh worker');
    assert.ok(fresh().rssBytes! < 320 * 1024 * 1024);
    assert.equal(pool.stats().calls.failed, 0);
  } finally {
    await pool.stop();
  }
});
