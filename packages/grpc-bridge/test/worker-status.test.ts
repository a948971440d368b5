/**
 * What a worker's reports show of its state (python-worker.ts formatStatus, OTP's format_status/1):
 * a worker killed with SIGKILL ends its PythonWorker with an error, whose gen_server_terminate
 * report carries the state. That state holds the pool's shared secret, its `env` option (where
 * users put API keys for their tools) and every other option; none of it may reach the log. The
 * report keeps what a reader needs: the pool, the slot, the worker's pid and its counters.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createMemoryLogger, getLogger, setLogger, type TrellisLogger } from '@trellis/core';
import { ToolPool } from '../src/index.js';
import { ALL_TOOLS, openTestRun, type TestRun, waitFor } from './helpers.js';

/** Every record Trellis logs (setLogger), kept in memory. */
const log = createMemoryLogger();

let run: TestRun;
let saved: TrellisLogger;
before(async () => {
  run = await openTestRun();
  saved = getLogger();
  setLogger(log);
});
after(async () => {
  setLogger(saved);
  await run.close();
});

test('the report of a worker killed with SIGKILL shows its pool, slot, pid and counters, not the secret or the env option', async () => {
  const apiKey = `sk-test-${randomBytes(12).toString('hex')}`;
  const pool = new ToolPool({ tools: ALL_TOOLS, size: 1, name: 'status', env: { TOOL_API_KEY: apiKey } });
  await pool.start();
  try {
    const victim = pool.stats().workers[0]!.pid;
    process.kill(victim, 'SIGKILL');
    await waitFor(
      () => log.records.some((r) => r.fields.report === 'gen_server_terminate'),
      'the terminate report of the killed worker',
    );
    await waitFor(
      () => pool.stats().workers.length === 1 && pool.stats().workers[0]!.pid !== victim,
      'the restart',
    );
    const report = log.records.find((r) => r.fields.report === 'gen_server_terminate')!.fields;
    assert.deepEqual(
      {
        pool: (report.state as Record<string, unknown>).pool,
        slot: (report.state as Record<string, unknown>).slot,
        pid: (report.state as Record<string, unknown>).pid,
      },
      { pool: 'status', slot: 0, pid: victim },
    );
    const text = JSON.stringify(log.records);
    assert.ok(!text.includes(apiKey), 'the env option (an API key) is in the log');
    assert.doesNotMatch(text, /[0-9a-f]{64}/, 'a 256-bit hex secret is in the log');
  } finally {
    await pool.stop();
  }
});
