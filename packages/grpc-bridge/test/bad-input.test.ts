/**
 * Every kind of bad input gets a TrellisError whose code names what was wrong, and the worker that
 * saw it keeps serving; workers that cannot start, and a Python that is missing, fail the pool's
 * start with a precise error and leave no process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InvalidOptionsError } from '@trellis/core';
import { type PoolEvent, type ToolCallError, ToolPool, type WorkerStartError } from '../src/index.js';
import {
  ALL_TOOLS,
  BROKEN_TOOLS,
  GARBAGE_SITE,
  markedProcesses,
  openTestRun,
  rejectsWith,
  type TestRun,
  VENV_PYTHON,
} from './helpers.js';

let run: TestRun;
let pool: ToolPool;
let workerPid: number;
const events: PoolEvent[] = [];

before(async () => {
  run = await openTestRun();
  pool = new ToolPool({ tools: ALL_TOOLS, size: 1, maxMessageBytes: 256 * 1024, name: 'bad' });
  pool.on((e) => events.push(e));
  await pool.start();
  workerPid = pool.stats().workers[0]!.pid;
});

after(async () => {
  await pool.stop();
  await run.close();
});

/** The same worker process answers the next call. */
async function stillServing(): Promise<void> {
  assert.equal(await pool.call('add', { a: 1, b: 2 }), 3);
  assert.equal(pool.stats().workers[0]!.pid, workerPid);
  assert.equal(pool.stats().restarts, 0);
}

describe('bad calls: the worker keeps serving', () => {
  test('an unknown tool: ERR_TOOL_NOT_FOUND listing the available tools', async () => {
    const err = await rejectsWith<ToolCallError>(pool.call('no_such_tool', {}), 'ERR_TOOL_NOT_FOUND');
    assert.ok(err.availableTools?.includes('add') && err.availableTools.includes('chunks'));
    assert.match(err.message, /no tool named "no_such_tool"/);
    assert.match(err.message, /add, ahang/);
    await rejectsWith(pool.stream('no_such_tool').next(), 'ERR_TOOL_NOT_FOUND');
    await stillServing();
  });

  test('arguments that break the schema: ERR_INVALID_ARGUMENT with the field path', async () => {
    const nested = await rejectsWith<ToolCallError>(
      pool.call('summarize', {
        items: [
          { name: 'a', qty: 1 },
          { name: 'b', qty: 'two' },
        ],
      }),
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(nested.fieldPath, 'items[1].qty');
    assert.equal(nested.pythonType, 'ValidationError');
    assert.match(nested.message, /at items\[1\]\.qty/);
    const missing = await rejectsWith<ToolCallError>(pool.call('add', { a: 1 }), 'ERR_INVALID_ARGUMENT');
    assert.match(missing.message, /\bb\b/);
    const unknown = await rejectsWith<ToolCallError>(
      pool.call('add', { a: 1, b: 2, c: 3 }),
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(unknown.fieldPath, 'c');
    // Not an object at all: refused before it reaches a worker.
    await rejectsWith(pool.call('add', [1, 2] as unknown as Record<string, unknown>), 'ERR_INVALID_ARGUMENT');
    // Raw bytes for a tool without a bytes parameter.
    await rejectsWith(pool.call('add', Buffer.from('xx')), 'ERR_INVALID_ARGUMENT');
    await stillServing();
  });

  test('a payload over the size limit: ERR_PAYLOAD_TOO_LARGE before anything is sent', async () => {
    const startedBefore = events.filter((e) => e.type === 'call_started').length;
    const err = await rejectsWith<ToolCallError>(
      pool.call('reverse_bytes', Buffer.alloc(300 * 1024)),
      'ERR_PAYLOAD_TOO_LARGE',
    );
    assert.match(err.message, /maxMessageBytes \(262144 bytes/);
    assert.equal(events.filter((e) => e.type === 'call_started').length, startedBefore, 'no worker was used');
    await stillServing();
  });

  test('a result over the size limit: ERR_PAYLOAD_TOO_LARGE from the worker', async () => {
    const err = await rejectsWith<ToolCallError>(
      pool.call('big_result', { size: 300 * 1024 }),
      'ERR_PAYLOAD_TOO_LARGE',
    );
    assert.equal(err.pythonType, 'PayloadTooLargeError');
    await stillServing();
  });

  test('a tool that raises: ERR_TOOL_FAILED with the Python type, message and traceback', async () => {
    const err = await rejectsWith<ToolCallError>(pool.call('checked_sqrt', { x: -4 }), 'ERR_TOOL_FAILED');
    assert.equal(err.pythonType, 'ValueError');
    assert.equal(err.pythonMessage, 'x must be >= 0');
    assert.match(err.traceback ?? '', /checked_sqrt/);
    assert.match(err.traceback ?? '', /ValueError: x must be >= 0/);
    assert.equal(err.grpcStatus, 'INTERNAL');
    const unimpl = await rejectsWith<ToolCallError>(
      pool.call('fail', { kind: 'not_implemented' }),
      'ERR_TOOL_FAILED',
    );
    assert.equal(unimpl.pythonType, 'NotImplementedError');
    assert.equal(unimpl.grpcStatus, 'UNIMPLEMENTED');
    // SystemExit inside a tool must not end the worker.
    await rejectsWith(pool.call('fail', { kind: 'system_exit' }), 'ERR_TOOL_FAILED');
    await stillServing();
  });

  test('a tool that hangs past its deadline: ERR_DEADLINE_EXCEEDED', async () => {
    await rejectsWith(
      pool.call('wait_cancel', { flag: run.flag() }, { timeoutMs: 150 }),
      'ERR_DEADLINE_EXCEEDED',
    );
    await stillServing();
  });

  test('a streaming tool called as unary: ERR_STREAMING_MISMATCH naming pool.stream', async () => {
    const err = await rejectsWith(pool.call('count', { n: 3 }), 'ERR_STREAMING_MISMATCH');
    assert.match(err.message, /pool\.stream\("count"/);
    await stillServing();
  });

  test('bad options: ERR_INVALID_POOL_OPTIONS naming the field', async () => {
    assert.throws(
      () => new ToolPool({ tools: [] }),
      (e: Error & { code?: string }) => e.code === 'ERR_INVALID_POOL_OPTIONS' && /tools/.test(e.message),
    );
    assert.throws(() => new ToolPool({ tools: [] }), InvalidOptionsError);
    assert.throws(
      () => new ToolPool({ tools: 'x.py', size: 0 }),
      (e: Error & { code?: string }) => e.code === 'ERR_INVALID_POOL_OPTIONS' && /size/.test(e.message),
    );
    await rejectsWith(pool.call('add', { a: 1, b: 1 }, { timeoutMs: -5 }), 'ERR_INVALID_POOL_OPTIONS');
  });
});

describe('workers that cannot start', () => {
  test('garbage on stdout before readiness: ERR_WORKER_START_FAILED, nothing left running', async () => {
    const err = await rejectsWith<WorkerStartError>(
      ToolPool.start({ tools: ALL_TOOLS, size: 2, env: { PYTHONPATH: GARBAGE_SITE }, name: 'garbage' }),
      'ERR_WORKER_START_FAILED',
    );
    assert.match(err.message, /garbage on stdout before the readiness line/);
    assert.match(err.message, /hello from sitecustomize/);
    assert.deepEqual(markedProcesses(run.registry.runId), [workerPid]);
  });

  test('a tools module that cannot be imported: ERR_WORKER_START_FAILED with the exit code and stderr', async () => {
    const err = await rejectsWith<WorkerStartError & { details: { exitCode: number } }>(
      ToolPool.start({ tools: BROKEN_TOOLS, size: 1, name: 'broken' }),
      'ERR_WORKER_START_FAILED',
    );
    assert.equal(err.details.exitCode, 3);
    assert.match(err.message, /could not be imported/);
    assert.match(err.message, /a_module_that_does_not_exist/);
    assert.deepEqual(markedProcesses(run.registry.runId), [workerPid]);
  });

  test('Python not installed: ERR_PYTHON_NOT_FOUND saying which command fixes it', async () => {
    const byOption = await rejectsWith(
      ToolPool.start({ tools: ALL_TOOLS, size: 1, python: '/nonexistent/bin/python3', name: 'nopy' }),
      'ERR_PYTHON_NOT_FOUND',
    );
    assert.match(byOption.message, /\/nonexistent\/bin\/python3/);
    assert.match(byOption.message, /pnpm install/);
    const byEnv = await rejectsWith(
      ToolPool.start({
        tools: ALL_TOOLS,
        size: 1,
        env: { TRELLIS_PYTHON: '/nonexistent/python' },
        name: 'nopy2',
      }),
      'ERR_PYTHON_NOT_FOUND',
    );
    assert.match(byEnv.message, /TRELLIS_PYTHON=\/nonexistent\/python/);
  });

  test('a Python without the SDK: ERR_PYTHON_SDK_MISSING with the pip command', async () => {
    const venv = mkdtempSync(join(tmpdir(), 'trellis-test-marker-emptyvenv-'));
    try {
      const made = spawnSync(VENV_PYTHON, ['-m', 'venv', '--without-pip', venv], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const err = await rejectsWith(
        ToolPool.start({ tools: ALL_TOOLS, size: 1, python: join(venv, 'bin', 'python'), name: 'nosdk' }),
        'ERR_PYTHON_SDK_MISSING',
      );
      assert.match(err.message, /cannot import trellis_worker/);
      assert.match(err.message, /-m pip install -e .*packages\/python-sdk/);
    } finally {
      rmSync(venv, { recursive: true, force: true });
    }
    assert.deepEqual(markedProcesses(run.registry.runId), [workerPid]);
  });
});
