/**
 * Taint and quarantine (a tool that crashes workers is refused for a cooling period) and the pool's
 * circuit breaker, with real Python workers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PoolEvent, ToolPool } from '../src/index.js';
import { openTestRun, PARITY_TOOLS, rejectsWith, type TestRun, waitFor, waitForReady } from './helpers.js';

let run: TestRun;

before(async () => {
  run = await openTestRun();
});

after(async () => {
  await run.close();
});

test('a tool that crashed workers twice is quarantined; other tools keep working', async () => {
  const pool = new ToolPool({
    tools: PARITY_TOOLS,
    size: 1,
    name: 'quarantine',
    quarantine: { crashes: 2, windowMs: 60_000, cooldownMs: 60_000 },
  });
  const events: PoolEvent[] = [];
  pool.on((e) => events.push(e));
  await pool.start();
  try {
    for (let i = 0; i < 2; i++) {
      const err = await rejectsWith<Error & { signal: string }>(pool.call('segv'), 'ERR_WORKER_EXITED');
      assert.equal(err.signal, 'SIGSEGV');
      await waitForReady(pool, 1);
    }
    const tainted = events.filter((e) => e.type === 'worker_tainted');
    assert.equal(tainted.length, 2);
    assert.deepEqual(
      tainted.map((e) => (e as unknown as { tools: string[] }).tools),
      [['segv'], ['segv']],
    );
    assert.ok(events.some((e) => e.type === 'tool_quarantined' && e.tool === 'segv'));
    const err = await rejectsWith(pool.call('segv'), 'ERR_TOOL_QUARANTINED');
    assert.match(err.message, /crashed 2 workers/);
    const s = pool.stats();
    assert.equal(s.tainted, 2);
    assert.ok(s.quarantined.segv! > 0);
    assert.equal(typeof (await pool.call('pid')), 'number');
    // A worker killed by the host (or anyone's kill -9 outside an OOM) taints nothing.
    assert.equal(events.filter((e) => e.type === 'worker_tainted').length, 2);
  } finally {
    await pool.stop();
  }
});

test('the circuit breaker opens after failures, refuses calls, and closes after a good probe', async () => {
  const pool = new ToolPool({
    tools: PARITY_TOOLS,
    size: 1,
    name: 'breaker',
    circuitBreaker: { failures: 3, windowMs: 10_000, cooldownMs: 200, codes: ['ERR_TOOL_FAILED'] },
  });
  const states: string[] = [];
  pool.on((e) => {
    if (e.type === 'circuit_changed') states.push(e.state);
  });
  await pool.start();
  try {
    assert.equal(pool.stats().circuit, 'closed');
    for (let i = 0; i < 3; i++) await rejectsWith(pool.call('boom'), 'ERR_TOOL_FAILED');
    assert.equal(pool.stats().circuit, 'open');
    await rejectsWith(pool.call('pid'), 'ERR_CIRCUIT_OPEN');
    // After the cooldown one probe goes through; its success closes the breaker.
    let probe: unknown;
    await waitFor(() => {
      void pool.call('pid').then(
        (r) => {
          probe = r;
        },
        () => {},
      );
      return probe !== undefined;
    }, 'a probe call to pass after the cooldown');
    await waitFor(() => pool.stats().circuit === 'closed', 'the breaker to close');
    assert.deepEqual(states, ['open', 'closed']);
  } finally {
    await pool.stop();
  }
});

test('without circuitBreaker the pool has none', async () => {
  const pool = await ToolPool.start({ tools: PARITY_TOOLS, size: 1, name: 'no-breaker' });
  try {
    for (let i = 0; i < 6; i++) await rejectsWith(pool.call('boom'), 'ERR_TOOL_FAILED');
    assert.equal(pool.stats().circuit, 'off');
    assert.equal(typeof (await pool.call('pid')), 'number');
  } finally {
    await pool.stop();
  }
});
