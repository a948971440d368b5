/**
 * Task pool with real piscina threads. Every test checks that the pool's OS threads are gone at the
 * end (/proc/self/task), not only that piscina says so.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterEach, before, describe, test } from 'node:test';
import {
  awaitExit,
  type Clock,
  call,
  currentNode,
  Exit,
  exit,
  InvalidOptionsError,
  isAlive,
  type Pid,
  runTask,
  SimulatedClock,
  send,
  spawn,
  startSupervisor,
  systemClock,
  TASK_POOL_DEFAULTS,
  type TaskPoolOptions,
  type TaskPoolStats,
  taskPoolChild,
  taskPoolStats,
  whereis,
} from '../src/index.js';
import type { WorkTask } from './fixtures/task-work.js';

const WORK = new URL('./fixtures/task-work.js', import.meta.url);

// ---- helpers -------------------------------------------------------------------------------------

function osThreads(): number {
  return readdirSync('/proc/self/task').length;
}

function threadAlive(tid: number): boolean {
  return existsSync(`/proc/self/task/${tid}`);
}

/** Polls `cond` (bounded): for effects with no event to wait on, such as an OS thread going away. */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Rejection {
  readonly message: string;
  readonly code?: string;
  readonly cause?: any;
  readonly details?: any;
}

async function rejection(p: Promise<unknown>): Promise<Rejection> {
  return p.then(
    (v) => assert.fail(`expected a rejection, got ${JSON.stringify(v)}`),
    (e) => e,
  );
}

function settledFlag(p: Promise<unknown>): { settled: boolean } {
  const f = { settled: false };
  p.then(
    () => (f.settled = true),
    () => (f.settled = true),
  );
  return f;
}

const started: Pid[] = [];

/** A stand-in supervisor: traps exits, and exits with `shutdown` when sent 'stop'. */
function startParent(): Pid {
  const pid = spawn(async (ctx) => {
    ctx.trapExit(true);
    await ctx.receive((m) => m === 'stop');
    ctx.stop(Exit.shutdown());
  });
  started.push(pid);
  return pid;
}

async function stopProcess(pid: Pid): Promise<void> {
  if (!isAlive(pid)) return;
  const done = awaitExit(pid);
  send(pid, 'stop');
  await done;
}

async function startPool(
  opts: Partial<TaskPoolOptions>,
  clock: Clock = systemClock,
): Promise<{ pid: Pid; parent: Pid }> {
  const parent = startParent();
  const pid = await taskPoolChild({ filename: WORK, ...opts })({
    parent,
    node: currentNode(),
    clock,
    id: 'pool',
  });
  assert.equal(typeof pid, 'string');
  started.push(pid as Pid);
  return { pid: pid as Pid, parent };
}

const run = <R = unknown>(pool: Pid | string, t: WorkTask, opts?: Parameters<typeof runTask>[2]) =>
  runTask<R>(pool, t, opts);

let baseline = 0;

before(async () => {
  // Start libuv's thread pool before counting threads, so it is part of the baseline.
  await readFile(new URL(import.meta.url));
  baseline = osThreads();
});

afterEach(async () => {
  for (const pid of started.splice(0)) if (isAlive(pid)) exit(pid, 'kill');
  await waitFor(
    () => osThreads() <= baseline,
    `the pool threads to exit (baseline ${baseline}, now ${osThreads()})`,
  );
});

// ---- tests ---------------------------------------------------------------------------------------

describe('task pool', () => {
  test('runs tasks in pool threads and returns their results', async () => {
    const { pid } = await startPool({ name: 'tp-basic', minThreads: 1, maxThreads: 2 });
    assert.equal(await run('tp-basic', { op: 'add', a: 2, b: 3 }), 5);
    assert.equal(await run(pid, { op: 'add', a: 40, b: 2 }), 42);
    const tid = await run<number>('tp-basic', { op: 'tid' });
    assert.ok(threadAlive(tid), 'the task ran in a live thread of this process');
    assert.notEqual(tid, process.pid, 'the task did not run on the main thread');
    const s = taskPoolStats('tp-basic');
    assert.equal(s.pid, pid);
    assert.equal(s.completed, 3);
    assert.equal(s.failed, 0);
    assert.equal(s.inFlight, 0);
    assert.equal(s.state, 'running');
    assert.ok(s.threads >= 1 && s.threads <= 2);
    // The same counters through the pool process (how another thread reads them).
    const viaCall = await call<TaskPoolStats>(pid, 'stats');
    assert.equal(viaCall.completed, 3);
  });

  test('moves buffers named in transferList instead of copying them', async () => {
    await startPool({ name: 'tp-transfer', minThreads: 1, maxThreads: 1 });
    const bytes = new Uint8Array([1, 2, 3, 4]);
    assert.equal(await run('tp-transfer', { op: 'sum', bytes }, { transferList: [bytes.buffer] }), 10);
    assert.equal(bytes.byteLength, 0, 'the buffer was transferred (detached here)');
  });

  test('a task that throws is rejected with ERR_TASK_FAILED carrying the original error', async () => {
    await startPool({ name: 'tp-throw', minThreads: 1, maxThreads: 1 });
    const tid = await run<number>('tp-throw', { op: 'tid' });
    const e = await rejection(run('tp-throw', { op: 'throw', message: 'bad input 7', code: 'E_CUSTOM' }));
    assert.equal(e.code, 'ERR_TASK_FAILED');
    assert.match(e.message, /bad input 7/);
    assert.ok(e.cause instanceof Error);
    assert.equal(e.cause.message, 'bad input 7');
    assert.equal((e.cause as { code?: string }).code, 'E_CUSTOM');
    // A throw is not a thread death: the same thread serves the next task.
    assert.equal(await run('tp-throw', { op: 'tid' }), tid);
    const s = taskPoolStats('tp-throw');
    assert.equal(s.failed, 1);
    assert.equal(s.workerDied, 0);
  });

  test('a time-out cancels a running task with ERR_TASK_TIMEOUT and the pool goes on', async () => {
    const clock = new SimulatedClock();
    await startPool({ name: 'tp-timeout', minThreads: 1, maxThreads: 1, clock });
    const p = run('tp-timeout', { op: 'hang' }, { timeoutMs: 1000 });
    const f = settledFlag(p);
    await clock.advance(999);
    assert.equal(f.settled, false, 'not cancelled before its time-out');
    await clock.advance(1);
    const e = await rejection(p);
    assert.equal(e.code, 'ERR_TASK_TIMEOUT');
    assert.equal(e.details.timeoutMs, 1000);
    assert.equal(await run('tp-timeout', { op: 'add', a: 1, b: 1 }), 2);
    const s = taskPoolStats('tp-timeout');
    assert.equal(s.timedOut, 1);
    assert.equal(s.inFlight, 0);
  });

  test('the pool taskTimeoutMs applies to tasks without their own', async () => {
    const clock = new SimulatedClock();
    await startPool({ name: 'tp-deftimeout', minThreads: 1, maxThreads: 1, clock, taskTimeoutMs: 200 });
    const p = rejection(run('tp-deftimeout', { op: 'hang' }));
    await clock.advance(200);
    assert.equal((await p).code, 'ERR_TASK_TIMEOUT');
    // A task's own time-out overrides the pool's.
    const q = run('tp-deftimeout', { op: 'hang' }, { timeoutMs: 500 });
    const f = settledFlag(q);
    await clock.advance(200);
    assert.equal(f.settled, false);
    await clock.advance(300);
    assert.equal((await rejection(q)).code, 'ERR_TASK_TIMEOUT');
  });

  test('a queued task that times out leaves the running task alone', async () => {
    const clock = new SimulatedClock();
    await startPool({ name: 'tp-queued', minThreads: 1, maxThreads: 1, clock });
    const ac = new AbortController();
    const running = run('tp-queued', { op: 'hang' }, { signal: ac.signal });
    const runningFlag = settledFlag(running);
    const queued = rejection(run('tp-queued', { op: 'add', a: 1, b: 2 }, { timeoutMs: 100 }));
    await clock.advance(100);
    assert.equal((await queued).code, 'ERR_TASK_TIMEOUT');
    assert.equal(runningFlag.settled, false, 'the running task was not touched');
    assert.equal(taskPoolStats('tp-queued').inFlight, 1);
    ac.abort(new Error('enough'));
    assert.equal((await rejection(running)).code, 'ERR_TASK_ABORTED');
  });

  test('an AbortSignal cancels a running task with ERR_TASK_ABORTED; an aborted one never runs', async () => {
    await startPool({ name: 'tp-abort', minThreads: 1, maxThreads: 1 });
    const before = await run<number>('tp-abort', { op: 'tid' });
    const ac = new AbortController();
    const p = run('tp-abort', { op: 'hang' }, { signal: ac.signal });
    const why = new Error('user pressed cancel');
    ac.abort(why);
    const e = await rejection(p);
    assert.equal(e.code, 'ERR_TASK_ABORTED');
    assert.equal(e.cause, why);
    // The hung thread was terminated and replaced.
    await waitFor(() => !threadAlive(before), 'the cancelled thread to exit');
    assert.equal(await run('tp-abort', { op: 'add', a: 2, b: 2 }), 4);

    const pre = await rejection(
      run('tp-abort', { op: 'exit', code: 9 }, { signal: AbortSignal.abort('no') }),
    );
    assert.equal(pre.code, 'ERR_TASK_ABORTED');
    assert.equal(taskPoolStats('tp-abort').workerDied, 0, 'the pre-aborted task never ran');
  });

  test('a thread that exits or throws uncaught mid-task fails only that task', async () => {
    await startPool({ name: 'tp-die', minThreads: 2, maxThreads: 2 });
    // A task on the other thread keeps running through both deaths.
    const bystander = run<number>('tp-die', { op: 'sleep', ms: 300 });

    const e1 = await rejection(run('tp-die', { op: 'exit', code: 7 }));
    assert.equal(e1.code, 'ERR_TASK_WORKER_DIED');
    assert.match(String(e1.cause?.message), /code: 7/);
    assert.equal(await run('tp-die', { op: 'add', a: 1, b: 2 }), 3);

    const e2 = await rejection(run('tp-die', { op: 'uncaught', message: 'boom outside the task' }));
    assert.equal(e2.code, 'ERR_TASK_WORKER_DIED');
    assert.equal(e2.cause?.message, 'boom outside the task');
    assert.equal(await run('tp-die', { op: 'add', a: 2, b: 2 }), 4);

    assert.equal(typeof (await bystander), 'number');
    const s = taskPoolStats('tp-die');
    assert.equal(s.workerDied, 2);
    assert.equal(s.completed, 3);
  });

  test('a thread that runs out of memory fails its task with ERR_TASK_WORKER_DIED', async () => {
    await startPool({
      name: 'tp-oom',
      minThreads: 1,
      maxThreads: 1,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    const e = await rejection(run('tp-oom', { op: 'oom' }));
    assert.equal(e.code, 'ERR_TASK_WORKER_DIED');
    assert.equal(e.cause?.code, 'ERR_WORKER_OUT_OF_MEMORY');
    assert.equal(await run('tp-oom', { op: 'add', a: 5, b: 5 }), 10);
  });

  test('a full queue refuses the task with ERR_TASK_QUEUE_FULL', async () => {
    await startPool({ name: 'tp-queue', minThreads: 1, maxThreads: 1, maxQueue: 1 });
    const a = run('tp-queue', { op: 'hang' });
    const b = run('tp-queue', { op: 'hang' });
    const e = await rejection(run('tp-queue', { op: 'add', a: 1, b: 1 }));
    assert.equal(e.code, 'ERR_TASK_QUEUE_FULL');
    assert.equal(taskPoolStats('tp-queue').queueSize, 1);
    exit(whereis('tp-queue')!, 'kill');
    assert.equal((await rejection(a)).code, 'ERR_TASK_POOL_STOPPED');
    assert.equal((await rejection(b)).code, 'ERR_TASK_POOL_STOPPED');
  });

  test('killing the pool process rejects every task in flight and leaves no thread', async () => {
    const { pid } = await startPool({ name: 'tp-kill', minThreads: 2, maxThreads: 2 });
    // Two overlapping tasks occupy both threads, so both thread ids are known.
    const spins = await Promise.all([
      run<{ tid: number }>('tp-kill', { op: 'spin', ms: 150 }),
      run<{ tid: number }>('tp-kill', { op: 'spin', ms: 150 }),
    ]);
    const tids = [...new Set(spins.map((s) => s.tid))];
    assert.equal(tids.length, 2);
    const inFlight = [1, 2, 3, 4].map(() => run('tp-kill', { op: 'hang' }));
    assert.equal(taskPoolStats('tp-kill').inFlight, 4);
    exit(pid, 'kill');
    const errors = await Promise.all(inFlight.map(rejection));
    for (const e of errors) {
      assert.equal(e.code, 'ERR_TASK_POOL_STOPPED');
      assert.match(e.message, /tp-kill/);
      assert.match(e.message, /killed/);
    }
    await waitFor(() => tids.every((t) => !threadAlive(t)), 'both pool threads to exit');
    await waitFor(() => osThreads() <= baseline, 'the thread count to return to its baseline');
    const noproc = await rejection(run('tp-kill', { op: 'add', a: 1, b: 1 }));
    assert.equal(noproc.code, 'ERR_NOPROC');
    assert.match(noproc.message, /"tp-kill"/);
    assert.equal(whereis('tp-kill'), undefined);
  });

  test('stopping a pool right after a cancellation leaves no thread (late thread exits)', async () => {
    // piscina replaces a removed thread when its 'exit' arrives; if that happens after destroy() it
    // would start a thread nobody owns. Many short cancel-then-kill cycles hit that window.
    for (let i = 0; i < 30; i++) {
      const { pid } = await startPool({ name: 'tp-late', minThreads: 1, maxThreads: 1 });
      const ac = new AbortController();
      const p = rejection(run('tp-late', { op: 'hang' }, { signal: ac.signal }));
      // Vary where in the thread's start-up the abort lands (event-loop turns: this is jitter, not
      // synchronisation; the test's outcome must not depend on it).
      for (let k = 0; k < (i % 10) * 20; k++) await new Promise((r) => setImmediate(r));
      ac.abort();
      assert.equal((await p).code, 'ERR_TASK_ABORTED');
      const down = awaitExit(pid);
      exit(pid, 'kill');
      await down;
    }
    await waitFor(
      () => osThreads() <= baseline,
      `the thread count to return to its baseline (${baseline}, now ${osThreads()})`,
    );
  });

  test('a pool that crashes rejects its tasks at once instead of draining them', async () => {
    const { pid } = await startPool({ name: 'tp-crash', minThreads: 1, maxThreads: 1 });
    const p = run('tp-crash', { op: 'hang' });
    const exited = awaitExit(pid);
    exit(pid, Exit.error(new Error('disk on fire')));
    const e = await rejection(p);
    assert.equal(e.code, 'ERR_TASK_POOL_STOPPED');
    assert.match(e.message, /disk on fire/);
    assert.equal((await exited).type, 'error');
  });

  test('an orderly shutdown finishes the tasks in flight, refuses new ones, then stops the threads', async () => {
    const { pid, parent } = await startPool({ name: 'tp-drain', minThreads: 2, maxThreads: 2 });
    const a = run<number>('tp-drain', { op: 'sleep', ms: 100 });
    const b = run<number>('tp-drain', { op: 'sleep', ms: 100 });
    const exited = awaitExit(pid);
    send(parent, 'stop');
    await waitFor(() => taskPoolStats('tp-drain').state === 'draining', 'the pool to start draining');
    const refused = await rejection(run('tp-drain', { op: 'add', a: 1, b: 1 }));
    assert.equal(refused.code, 'ERR_TASK_POOL_STOPPED');
    assert.match(refused.message, /shutting down/);
    const tids = await Promise.all([a, b]);
    assert.deepEqual((await exited).type, 'shutdown');
    // The process exits only after piscina was destroyed.
    await waitFor(() => tids.every((t) => !threadAlive(t)), 'the pool threads to exit');
  });

  test('an orderly shutdown after a thread died on its own ends with shutdown, not a kill', {
    timeout: 20_000,
  }, async () => {
    // Found by the chaos suite: a thread that ended itself (process.exit in a task) emitted its
    // 'exit' before piscina reported removing it; the stop then waited for that exit forever and the
    // supervisor had to kill the pool when its shutdown time ran out.
    const clock = new SimulatedClock();
    const { pid, parent } = await startPool({ name: 'tp-died-stop', minThreads: 1, maxThreads: 2 }, clock);
    for (const code of [3, 4]) {
      const e = await rejection(run('tp-died-stop', { op: 'exit', code }));
      assert.equal(e.code, 'ERR_TASK_WORKER_DIED');
    }
    assert.equal(await run('tp-died-stop', { op: 'add', a: 1, b: 1 }), 2);
    const exited = awaitExit(pid);
    send(parent, 'stop');
    // The simulated clock never advances: a stop that depended on a time-out would never end.
    assert.equal((await exited).type, 'shutdown');
    assert.equal(isAlive(pid), false);
  });

  test('under a one_for_one supervisor a killed pool is restarted and serves again', async () => {
    const parent = startParent();
    const sup = await startSupervisor(
      {
        flags: { strategy: 'one_for_one', intensity: 5, periodMs: 10_000 },
        children: [
          {
            id: 'pool',
            start: taskPoolChild({ filename: WORK, name: 'tp-sup', minThreads: 1, maxThreads: 2 }),
          },
        ],
      },
      { link: parent },
    );
    started.push(sup);
    const first = whereis('tp-sup')!;
    assert.ok(first);
    const { tid } = await run<{ tid: number }>('tp-sup', { op: 'spin', ms: 1 });
    const inFlight = [
      run('tp-sup', { op: 'hang' }),
      run('tp-sup', { op: 'hang' }),
      run('tp-sup', { op: 'hang' }),
    ];
    exit(first, 'kill');
    for (const e of await Promise.all(inFlight.map(rejection))) assert.equal(e.code, 'ERR_TASK_POOL_STOPPED');
    await waitFor(
      () => whereis('tp-sup') !== undefined && whereis('tp-sup') !== first,
      'the supervisor to restart the pool',
    );
    assert.equal(await run('tp-sup', { op: 'add', a: 20, b: 22 }), 42);
    assert.equal(taskPoolStats('tp-sup').completed, 1, 'a fresh pool with fresh counters');
    await waitFor(() => !threadAlive(tid), 'the old pool thread to exit');
    // Stopping the tree stops the pool through the supervisor's shutdown.
    const supDown = awaitExit(sup);
    await stopProcess(parent);
    await supDown;
    assert.equal(whereis('tp-sup'), undefined);
  });

  test("tasks still running when the supervisor's shutdown grace ends are rejected", async () => {
    const clock = new SimulatedClock();
    const parent = startParent();
    const sup = await startSupervisor(
      {
        children: [
          {
            id: 'pool',
            shutdown: 500,
            start: taskPoolChild({ filename: WORK, name: 'tp-grace', minThreads: 1, maxThreads: 1 }),
          },
        ],
      },
      { link: parent, clock },
    );
    started.push(sup);
    const pool = whereis('tp-grace')!;
    const p = run('tp-grace', { op: 'hang' });
    const f = settledFlag(p);
    send(parent, 'stop');
    await waitFor(
      () => taskPoolStats('tp-grace').state === 'draining' && clock.pending > 0,
      'the pool to drain under the grace timer',
    );
    await clock.advance(499);
    assert.equal(f.settled, false, 'the task is given the whole grace');
    assert.ok(isAlive(pool));
    await clock.advance(1);
    const e = await rejection(p);
    assert.equal(e.code, 'ERR_TASK_POOL_STOPPED');
    assert.match(e.message, /killed/);
    await awaitExit(sup);
  });

  test('calls to a pool that is not running fail with ERR_NOPROC naming the pool', async () => {
    const byName = await rejection(run('tp-nobody', { op: 'add', a: 1, b: 1 }));
    assert.equal(byName.code, 'ERR_NOPROC');
    assert.match(byName.message, /"tp-nobody"/);
    const remote = await rejection(run('<987654.1>' as Pid, { op: 'add', a: 1, b: 1 }));
    assert.equal(remote.code, 'ERR_NOPROC');
    assert.match(remote.message, /<987654\.1>.*thread 987654/);
    assert.throws(() => taskPoolStats('tp-nobody'), { code: 'ERR_NOPROC' });
  });

  test('bad options are refused with ERR_INVALID_TASK_POOL_OPTIONS', async () => {
    assert.throws(() => taskPoolChild({ filename: '' }), { code: 'ERR_INVALID_TASK_POOL_OPTIONS' });
    // One of the packages' bad-options errors: catchable as InvalidOptionsError, like the others.
    assert.throws(() => taskPoolChild({ filename: '' }), InvalidOptionsError);
    assert.throws(() => taskPoolChild({ filename: WORK, minThreads: 3, maxThreads: 2 }), /minThreads/);
    assert.throws(() => taskPoolChild({ filename: WORK, taskTimeoutMs: 0 }), /taskTimeoutMs/);
    assert.throws(() => taskPoolChild({ filename: 'https://example.invalid/task.js' }), /local file/);
    const parent = startParent();
    const missing = taskPoolChild({ filename: new URL('./fixtures/task-missing.js', import.meta.url) });
    const e = await rejection(missing({ parent, node: currentNode(), clock: systemClock, id: 'x' }));
    assert.equal(e.code, 'ERR_INVALID_TASK_POOL_OPTIONS');
    assert.match(e.message, /task-missing\.js/);
    await startPool({ name: 'tp-badrun', minThreads: 1, maxThreads: 1 });
    assert.equal(
      (await rejection(run('tp-badrun', { op: 'tid' }, { timeoutMs: -1 }))).code,
      'ERR_INVALID_TASK_POOL_OPTIONS',
    );
    assert.equal(
      (await rejection(run('tp-badrun', { op: 'tid', f: () => 1 } as never))).code,
      'ERR_NOT_CLONEABLE',
    );
    assert.equal(TASK_POOL_DEFAULTS.taskTimeoutMs, Number.POSITIVE_INFINITY);
  });
});
