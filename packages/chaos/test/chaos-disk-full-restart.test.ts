/**
 * A worker that dies while the home's disk is full (chaos seeds 416113825 and 1654141691): its
 * restarts wait for the registry to have room again, slowly enough that the pool, its supervisor and
 * the host live on, and a stop meanwhile is heard between two tries. Before, every start was refused at once, the pool's restart intensity went in about 20 ms, then
 * its parent's, and the whole host exited. A real tmpfs home (root only; CI runs as root), really
 * filled until the registry refuses a record; a real worker killed with SIGKILL meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { PoolEvent } from '@trellis/grpc-bridge';
import { ToolPool } from '@trellis/grpc-bridge';
import { Registry } from '@trellis/registry';
import { fillDisk } from '../src/disk-fill.js';
import { mountSmallHome, unmountSmallHome } from '../src/small-home.js';
import { TOOLS_A } from '../src/tree.js';

const NEEDS_ROOT = process.getuid?.() === 0 ? false : 'needs root to mount a tmpfs (CI runs as root)';

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a worker killed while the disk is full is restarted once there is room; the pool lives on', {
  skip: NEEDS_ROOT,
}, async () => {
  const home = mkdtempSync(join(tmpdir(), 'trellis-test-marker-fullhome-'));
  assert.ok(mountSmallHome(home, 32), 'mount a tmpfs home');
  const registry = await Registry.open({ dir: home, logger: { info() {}, warn() {} } });
  try {
    // The pool's own defaults: 10 restarts in 10 s before its supervisor gives up.
    const pool = await ToolPool.start({ tools: [TOOLS_A], size: 2, name: 'full-disk-restart' });
    try {
      const victim = pool.stats().workers[0]!.pid;
      let killedAt = 0;
      const fill = await fillDisk(home, 1500, () => {
        killedAt = Date.now();
        process.kill(victim, 'SIGKILL');
      });
      assert.equal(fill.refusalCode, 'ERR_REGISTRY_UNAVAILABLE', 'the disk was full for the registry');
      assert.ok(killedAt > 0);
      // The disk is free again: the slot comes back, with one restart, not a storm.
      await waitFor('the pool back at full size', () => {
        const s = pool.stats();
        return s.readyWorkers === 2 && !s.workers.some((w) => w.pid === victim);
      });
      const s = pool.stats();
      assert.equal(s.restarts, 1, `restarts: ${s.restarts}`);
      assert.equal(await pool.call('add', { a: 2, b: 3 }), 5);
      for (const w of s.workers) assert.equal(await pool.call('echo', { value: w.slot }), w.slot);
    } finally {
      await pool.stop();
    }
  } finally {
    await registry.stopAll({ graceMs: 1000 });
    await registry.close();
    unmountSmallHome(home);
    rmSync(home, { recursive: true, force: true });
  }
});

test('a stop while the disk stays full ends the pool before there is room; failed starts do not end it first', {
  skip: NEEDS_ROOT,
}, async (t: TestContext) => {
  const home = mkdtempSync(join(tmpdir(), 'trellis-test-marker-fullhome-'));
  assert.ok(mountSmallHome(home, 32), 'mount a tmpfs home');
  const registry = await Registry.open({ dir: home, logger: { info() {}, warn() {} } });
  let pool: ToolPool | undefined;
  // Also when an assertion failed before the stop: the pool first, then what it was recorded in.
  t.after(async () => {
    await pool?.stop();
    await registry.stopAll({ graceMs: 1000 });
    await registry.close();
    unmountSmallHome(home);
    rmSync(home, { recursive: true, force: true });
  });
  pool = await ToolPool.start({ tools: [TOOLS_A], size: 2, name: 'full-disk-stop' });
  const p = pool;
  const events: PoolEvent[] = [];
  p.on((e) => events.push(e));
  const victim = p.stats().workers[0]!.pid;
  const order: string[] = [];
  let stopping: Promise<unknown> | undefined;
  // Held long enough for several failed starts of the slot before the stop (each waits about 1.2 s).
  const fill = fillDisk(home, 8000, () => {
    process.kill(victim, 'SIGKILL');
    stopping = (async () => {
      await waitFor(
        'two failed starts of the slot',
        () => events.filter((e) => e.type === 'worker_start_failed').length >= 2,
      );
      const failed = events.filter((e) => e.type === 'worker_start_failed');
      assert.ok(
        failed.every((e) => e.type === 'worker_start_failed' && e.code === 'ERR_REGISTRY_UNAVAILABLE'),
        JSON.stringify(failed),
      );
      // The pool lives on meanwhile: its other worker serves.
      assert.equal(await p.call('add', { a: 1, b: 2 }), 3);
      await p.stop();
      order.push('stopped');
    })();
  });
  const filled = await fill;
  order.push('room again');
  await stopping;
  assert.equal(filled.refusalCode, 'ERR_REGISTRY_UNAVAILABLE', 'the disk was full for the registry');
  assert.deepEqual(order, ['stopped', 'room again'], 'the stop waited for the disk');
});
