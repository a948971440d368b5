/**
 * Unary, bytes and streaming calls through a real pool of Python workers; tool descriptions; the
 * context a tool sees; least-loaded dispatch; stats and events.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { leastLoaded, type PoolEvent, ToolPayload, ToolPool, type WorkerView } from '../src/index.js';
import { ALL_TOOLS, markedProcesses, openTestRun, readFlag, type TestRun, waitFor } from './helpers.js';

let run: TestRun;
let pool: ToolPool;
const events: PoolEvent[] = [];

before(async () => {
  run = await openTestRun();
  pool = new ToolPool({ tools: ALL_TOOLS, size: 2, concurrency: 4, name: 'calls' });
  pool.on((e) => events.push(e));
  await pool.start();
});

after(async () => {
  await pool.stop();
  await run.close();
});

describe('unary calls', () => {
  test('JSON arguments and results round-trip', async () => {
    assert.equal(await pool.call('add', { a: 2, b: 40 }), 42);
    const value = { s: 'héllo', n: [1, 2.5, null], nested: { t: true } };
    assert.deepEqual(await pool.call('echo', { value }), value);
    assert.equal(await pool.call('echo', {}), null);
  });

  test('the tool sees session id, metadata, idempotent flag and a deadline through its context', async () => {
    const info = await pool.call<Record<string, unknown>>('context_info', undefined, {
      sessionId: 's-1',
      metadata: { trace: 'abc' },
      idempotent: true,
      timeoutMs: 10_000,
    });
    assert.equal(info.session_id, 's-1');
    assert.deepEqual(info.metadata, { trace: 'abc' });
    assert.equal(info.idempotent, true);
    assert.equal(info.content_type, 'application/json');
    assert.ok(
      typeof info.time_remaining === 'number' && info.time_remaining > 0 && info.time_remaining <= 10,
    );
    assert.ok(typeof info.call_id === 'string' && info.call_id.startsWith('calls-'));
  });

  test('tools() describes every tool with its schema, streaming flag and raw-bytes parameter', () => {
    const tools = new Map(pool.tools().map((t) => [t.name, t]));
    assert.ok(tools.has('add') && tools.has('chunks') && tools.has('count'));
    const add = tools.get('add')!;
    assert.equal(add.description, 'Add two integers.');
    assert.equal(add.streaming, false);
    assert.equal(add.idempotent, true);
    assert.deepEqual((add.parameters as { required: string[] }).required, ['a', 'b']);
    assert.equal(tools.get('count')!.streaming, true);
    assert.equal(tools.get('reverse_bytes')!.rawBytesParameter, 'data');
  });
});

describe('bytes', () => {
  test('a Buffer goes to the bytes parameter raw and bytes come back as a Buffer, untouched', async () => {
    const data = randomBytes(1024 * 1024);
    const out = await pool.call<Buffer>('reverse_bytes', data);
    assert.ok(Buffer.isBuffer(out));
    assert.equal(out.length, data.length);
    assert.ok(out.equals(Buffer.from(data).reverse()));
  });

  test('a Uint8Array is sent as raw bytes too', async () => {
    const u = new Uint8Array([1, 2, 3, 250]);
    assert.deepEqual([...(await pool.call<Buffer>('reverse_bytes', u))], [250, 3, 2, 1]);
  });

  test('raw: true returns the content type the tool chose', async () => {
    const r = await pool.call<ToolPayload>('labelled_bytes', { text: 'hé' }, { raw: true });
    assert.ok(r instanceof ToolPayload);
    assert.equal(r.contentType, 'text/plain');
    assert.equal(r.data.toString('utf8'), 'hé');
    // Without raw, a non-JSON result is a Buffer.
    assert.ok(Buffer.isBuffer(await pool.call('labelled_bytes', { text: 'x' })));
  });
});

describe('streaming', () => {
  test('items of sync and async generators arrive in order', async () => {
    const a: unknown[] = [];
    for await (const x of pool.stream('count', { n: 50 })) a.push(x);
    assert.deepEqual(
      a,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const b: unknown[] = [];
    for await (const x of pool.stream('acount', { n: 5 })) b.push(x);
    assert.deepEqual(b, [1, 2, 3, 4, 5]);
  });

  test('items before a failure are delivered, then the error', async () => {
    const got: unknown[] = [];
    await assert.rejects(
      async () => {
        for await (const x of pool.stream('count', { n: 10, fail_at: 4 })) got.push(x);
      },
      (e: Error & { code?: string; pythonType?: string }) =>
        e.code === 'ERR_TOOL_FAILED' && e.pythonType === 'ValueError',
    );
    assert.deepEqual(got, [1, 2, 3]);
  });

  test('backpressure: a slow consumer holds the Python generator back, and leaving early closes it', async () => {
    const flag = run.flag('chunks');
    const n = 400;
    const size = 64 * 1024;
    const s = pool.stream<Buffer>('chunks', { n, size, flag }, { highWaterMark: 4 });
    for (let i = 1; i <= 3; i++) {
      const r = await s.next();
      assert.equal(r.done, false);
      assert.equal(r.value.length, size);
      assert.equal(r.value[0], i % 256);
    }
    // Wait until the producer stops moving (the pipeline is full), bounded.
    let last = '';
    let stable = 0;
    await waitFor(
      () => {
        const v = readFlag(flag) ?? '';
        stable = v === last ? stable + 1 : 0;
        last = v;
        return stable >= 20;
      },
      'the producer to stall',
      10_000,
    );
    const produced = Number(/produced:(\d+)/.exec(last)?.[1]);
    // Our buffer (4) + the grpc-js readable (16) + HTTP/2 window (~1 item) + the worker's 8-item
    // buffer: far below the 400 items an unthrottled producer would have made by now.
    assert.ok(produced < 3 + 64, `producer ran ${produced} items ahead of a consumer that took 3`);
    await s.return();
    await waitFor(() => /^closed:/.test(readFlag(flag) ?? ''), 'the generator to be closed');
  });

  test('stream() on a non-streaming tool yields its one result', async () => {
    const got: unknown[] = [];
    for await (const x of pool.stream('add', { a: 1, b: 1 })) got.push(x);
    assert.deepEqual(got, [2]);
  });
});

describe('dispatch', () => {
  test('concurrent calls spread over the workers (least loaded)', async () => {
    const sums = await Promise.all(
      Array.from({ length: 4 }, (_, i) => pool.call('slow_add', { a: i, b: 2, ms: 150 })),
    );
    assert.deepEqual(sums, [2, 3, 4, 5]);
    const started = events.filter((e) => e.type === 'call_started' && e.tool === 'slow_add') as Extract<
      PoolEvent,
      { type: 'call_started' }
    >[];
    assert.equal(new Set(started.map((e) => e.pid)).size, 2, 'both workers took slow_add calls');
  });

  test('leastLoaded picks the worker with the fewest calls and rotates among equals', () => {
    const w = (id: number, inFlight: number, capacity = 2, abandoned = 0): WorkerView => ({
      id,
      slot: id,
      pid: 100 + id,
      inFlight,
      abandoned,
      capacity,
      served: 0,
    });
    const pick = leastLoaded();
    const req = { tool: 't', sessionId: undefined, attempt: 0 };
    assert.equal(pick([w(1, 1), w(2, 0), w(3, 1)], req)?.id, 2);
    assert.equal(pick([w(1, 2), w(2, 2)], req), undefined, 'full workers are never picked');
    // Abandoned slots (a stuck tool's) are load: an "idle" worker whose slots are all stuck is full.
    assert.equal(pick([w(1, 0, 1, 1), w(2, 0, 1)], req)?.id, 2);
    assert.equal(pick([w(1, 0, 2, 1), w(2, 1, 2)], req)?.id, 1, 'equal load (1 each): the rotation decides');
    assert.equal(pick([w(1, 0, 1, 1)], req), undefined, 'a worker whose every slot is stuck is never picked');
    const rr = leastLoaded();
    const idle = [w(1, 0), w(2, 0), w(3, 0)];
    assert.deepEqual(
      [rr(idle, req)?.id, rr(idle, req)?.id, rr(idle, req)?.id, rr(idle, req)?.id],
      [1, 2, 3, 1],
    );
  });
});

describe('stats and events', () => {
  test('stats() reports workers, calls, errors by code and latency percentiles', async () => {
    await pool.call('add', { a: 1, b: 1 });
    await assert.rejects(pool.call('checked_sqrt', { x: -1 }));
    const s = pool.stats();
    assert.equal(s.status, 'running');
    assert.equal(s.size, 2);
    assert.equal(s.readyWorkers, 2);
    assert.equal(s.busyWorkers + s.idleWorkers, 2);
    assert.equal(s.queueDepth, 0);
    assert.ok(s.calls.succeeded >= 1);
    assert.ok((s.errorsByCode.ERR_TOOL_FAILED ?? 0) >= 1);
    assert.ok(
      s.latencyMs.p50 !== undefined && s.latencyMs.p99 !== undefined && s.latencyMs.p50 <= s.latencyMs.p99,
    );
    assert.equal(s.restarts, 0);
    assert.equal(s.workers.length, 2);
    assert.deepEqual(
      s.workers.map((w) => w.slot),
      [0, 1],
    );
    for (const w of s.workers)
      assert.ok(markedProcesses(run.registry.runId).includes(w.pid), 'each worker carries the run marker');
  });

  test('workers started concurrently: every spawn happened before the first worker was ready', () => {
    const lifecycle = events
      .filter((e) => e.type === 'worker_started' || e.type === 'worker_ready')
      .map((e) => e.type);
    assert.deepEqual(lifecycle.slice(0, 2), ['worker_started', 'worker_started']);
    assert.equal(lifecycle.filter((t) => t === 'worker_ready').length, 2);
    assert.ok(events.some((e) => e.type === 'pool_started'));
  });

  test('calls emit started / finished / failed with durations', async () => {
    const before = events.length;
    await pool.call('add', { a: 5, b: 5 });
    await assert.rejects(pool.call('nope'));
    const mine = events.slice(before);
    const finished = mine.find((e) => e.type === 'call_finished') as Extract<
      PoolEvent,
      { type: 'call_finished' }
    >;
    assert.ok(finished && finished.tool === 'add' && finished.durationMs >= 0);
    const failed = mine.find((e) => e.type === 'call_failed') as Extract<PoolEvent, { type: 'call_failed' }>;
    assert.ok(failed && failed.code === 'ERR_TOOL_NOT_FOUND' && failed.tool === 'nope');
  });
});
