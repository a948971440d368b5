/**
 * Python calling TypeScript: host tools exposed with pool.exposeHostTool and called from sync and
 * async Python tools; errors crossing both ways with type, message and stack; the outer call's
 * cancellation and deadline reaching the host tool's AbortSignal.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type HostToolContext, ToolPool } from '../src/index.js';
import { openTestRun, PARITY_TOOLS, rejectsWith, type TestRun, waitFor, waitForFlag } from './helpers.js';

let run: TestRun;
let pool: ToolPool;
const seen: HostToolContext[] = [];
/** The AbortSignal of each `wait_for_abort` call, and whether it fired. */
const waits: { signal: AbortSignal; aborted: boolean }[] = [];

class LedgerError extends Error {
  override name = 'LedgerError';
}

before(async () => {
  run = await openTestRun();
  pool = new ToolPool({ tools: PARITY_TOOLS, size: 2, name: 'host-tools' });
  pool.exposeHostTool(
    'upper',
    { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    (args, ctx) => {
      seen.push(ctx);
      return { text: (args as { text: string }).text.toUpperCase(), from: 'typescript' };
    },
  );
  pool.exposeHostTool('explode', { type: 'object' }, () => {
    throw new LedgerError('the ledger is locked');
  });
  pool.exposeHostTool(
    'wait_for_abort',
    { type: 'object' },
    (_args, ctx) =>
      new Promise((_resolve, reject) => {
        const w = { signal: ctx.signal, aborted: false };
        waits.push(w);
        ctx.signal.addEventListener('abort', () => {
          w.aborted = true;
          reject(ctx.signal.reason);
        });
      }),
  );
  await pool.start();
});

after(async () => {
  await pool?.stop();
  await run.close();
});

for (const tool of ['ask_host', 'ask_host_sync']) {
  test(`${tool}: a Python tool gets the host tool's result, with its session and call ids`, async () => {
    const sessionId = pool.createSession();
    const r = await pool.call(tool, { tool: 'upper', args: { text: 'hello' } }, { sessionId });
    assert.deepEqual(r, { text: 'HELLO', from: 'typescript' });
    const ctx = seen.at(-1)!;
    assert.equal(ctx.sessionId, sessionId);
    assert.match(ctx.callId, /^host-tools-\d+$/);
    assert.ok(pool.stats().workers.some((w) => w.pid === ctx.workerPid));
    await pool.endSession(sessionId);
  });

  test(`${tool}: a host tool's error reaches Python and comes back with type, message and stack`, async () => {
    const err = await rejectsWith<Error & { pythonType: string; pythonMessage: string; traceback: string }>(
      pool.call(tool, { tool: 'explode' }),
      'ERR_TOOL_FAILED',
    );
    assert.equal(err.pythonType, 'HostToolError');
    assert.match(err.pythonMessage, /LedgerError: the ledger is locked/);
    // The Python traceback, then the JavaScript stack of the host tool.
    assert.match(err.traceback, /ask_host/);
    assert.match(err.traceback, /The host tool's stack:\nLedgerError: the ledger is locked\n\s+at /);
    assert.match(err.traceback, /host-tools\.test\.js/);
  });

  test(`${tool}: bad arguments for a host tool are refused before it runs`, async () => {
    const before = seen.length;
    const err = await rejectsWith<Error & { pythonMessage: string }>(
      pool.call(tool, { tool: 'upper', args: { text: 42 } }),
      'ERR_TOOL_FAILED',
    );
    assert.match(err.pythonMessage, /INVALID_ARGUMENT.*argument "text" must be string/);
    assert.equal(seen.length, before);
  });

  test(`${tool}: cancelling the outer call aborts the host tool's signal`, async () => {
    const n = waits.length;
    const ac = new AbortController();
    const call = pool.call(tool, { tool: 'wait_for_abort' }, { signal: ac.signal });
    await waitFor(() => waits.length === n + 1, 'the host tool to start');
    ac.abort();
    await rejectsWith(call, 'ERR_CANCELLED');
    await waitFor(() => waits[n]!.aborted, "the host tool's AbortSignal to fire");
  });

  test(`${tool}: the outer deadline aborts the host tool's signal`, async () => {
    const n = waits.length;
    await rejectsWith(
      pool.call(tool, { tool: 'wait_for_abort' }, { timeoutMs: 800 }),
      'ERR_DEADLINE_EXCEEDED',
    );
    await waitFor(() => waits[n]?.aborted === true, "the host tool's AbortSignal to fire at the deadline");
  });
}

test('the Python side sees its own cancellation while it awaits a host tool', async () => {
  const flag = run.flag('host-cancel');
  const n = waits.length;
  const ac = new AbortController();
  const call = pool.call('ask_host_flag', { tool: 'wait_for_abort', flag }, { signal: ac.signal });
  await waitFor(() => waits.length === n + 1, 'the host tool to start');
  ac.abort();
  await rejectsWith(call, 'ERR_CANCELLED');
  await waitForFlag(flag, 'cancelled');
  await waitFor(() => waits[n]!.aborted, "the host tool's AbortSignal to fire");
});

test('an unknown host tool is a HostToolError naming the tools the host exposes', async () => {
  const err = await rejectsWith<Error & { pythonMessage: string }>(
    pool.call('ask_host', { tool: 'nope' }),
    'ERR_TOOL_FAILED',
  );
  assert.match(err.pythonMessage, /NOT_FOUND/);
  assert.match(err.pythonMessage, /explode, upper, wait_for_abort/);
});

test('exposeHostTool refuses bad input, and a pool started without host tools refuses late ones', async () => {
  assert.throws(() => pool.exposeHostTool('', {}, () => 1), { code: 'ERR_INVALID_POOL_OPTIONS' });
  assert.throws(() => pool.exposeHostTool('x', null as never, () => 1), { code: 'ERR_INVALID_POOL_OPTIONS' });
  const plain = await ToolPool.start({ tools: PARITY_TOOLS, size: 1, name: 'no-host-tools' });
  try {
    assert.throws(() => plain.exposeHostTool('late', {}, () => 1), /before starting the pool/);
  } finally {
    await plain.stop();
  }
});
