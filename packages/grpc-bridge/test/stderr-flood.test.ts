/**
 * Issue 13, defect 3: with an `onStderr` listener, one long stderr line without a newline (a tqdm
 * `\r` progress bar) used to be re-joined and re-split on every chunk: quadratic. At 50 MiB the
 * host's event loop stalled ~4 s, its RSS reached ~470 MiB and a healthy worker was killed for
 * missed heartbeats. Now the line is cut at maxStderrLineBytes (and marked), the cost is linear and
 * the host's event loop stays responsive.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BRIDGE_DEFAULTS, ToolPool } from '../src/index.js';
import { StderrLines } from '../src/worker/stderr-lines.js';
import { openTestRun, type TestRun } from './helpers.js';

const RELIABILITY_TOOLS = fileURLToPath(new URL('../../test/fixtures/reliability_tools.py', import.meta.url));

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

test('StderrLines: lines split across chunks, an over-long line cut and marked, the last line on end', () => {
  const out: string[] = [];
  const s = new StderrLines({ maxLineBytes: 8, onLine: (l) => out.push(l) });
  s.push(Buffer.from('ab'));
  s.push(Buffer.from('c\nde'));
  s.push(Buffer.from('f\n\n0123456789abcdef'));
  s.push(Buffer.from('ghij\nlast'));
  s.end();
  assert.deepEqual(out.slice(0, 3), ['abc', 'def', '']);
  assert.equal(out[3], '01234567 … [line cut by Trellis: 12 more bytes dropped (longer than 8 bytes)]');
  assert.equal(out[4], 'last');
  assert.equal(out.length, 5);
});

test('one 50 MiB stderr line: the event loop stays responsive, the line is cut, the call succeeds', async () => {
  const lines: string[] = [];
  const pool = await ToolPool.start({
    name: 'flood',
    tools: [RELIABILITY_TOOLS],
    size: 1,
    onStderr: (l) => lines.push(l),
    // The defaults: a stall of 3 beats at 2 s got the worker killed before the fix.
  });
  try {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    try {
      const written = await pool.call('stderr_line', { mib: 50, newline: true }, { timeoutMs: 60_000 });
      assert.equal(written, 50 * 1024 * 1024);
      // The newline comes after the call's result: wait for the line itself.
      const deadline = Date.now() + 10_000;
      while (!lines.some((l) => l.includes('line cut by Trellis')) && Date.now() < deadline)
        await new Promise((r) => setImmediate(r));
    } finally {
      clearInterval(sampler);
      h.disable();
    }
    const cut = lines.find((l) => l.includes('line cut by Trellis'));
    assert.ok(cut, 'the over-long line is delivered, cut and marked');
    assert.ok(cut.startsWith('#'.repeat(BRIDGE_DEFAULTS.maxStderrLineBytes)));
    assert.match(
      cut,
      new RegExp(`${50 * 1024 * 1024 - BRIDGE_DEFAULTS.maxStderrLineBytes} more bytes dropped`),
    );
    const maxLagMs = h.max / 1e6;
    // Before the fix: ~3900 ms. The bound leaves room for a loaded 2-core box.
    assert.ok(maxLagMs < 1000, `event loop stalled ${maxLagMs.toFixed(0)} ms`);
    const grewMiB = (rssPeak - rssBefore) / 2 ** 20;
    assert.ok(grewMiB < 100, `host RSS grew ${grewMiB.toFixed(0)} MiB while reading a 50 MiB line`);
    assert.equal(pool.stats().restarts, 0, 'no worker was killed');
  } finally {
    await pool.stop();
  }
});
