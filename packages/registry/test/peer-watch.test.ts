/**
 * The peer watch's schedule on a simulated clock: one check per interval, a sweep only when a run is
 * dead, never two at once, a back-off after a sweep that left survivors or a failed check, and stop()
 * waiting for a sweep in progress (the store is closed right after it). The real reaping, with real
 * hosts and kill -9, is in peer-reap.test.ts; a survivor of SIGKILL (a process stuck in the kernel)
 * cannot be made on demand, so the back-off is checked here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimulatedClock } from '@trellis/core';
import { PeerWatch } from '../src/peer-watch.js';
import type { SweepReport, SweptProcess } from '../src/report.js';
import { memoryLogger } from './helpers.js';

function report(survivors: SweptProcess[] = []): SweepReport {
  return {
    dryRun: false,
    runs: { dead: [], alive: [], rebooted: [], foreign: [] },
    killed: [],
    forced: [],
    droppedReused: [],
    droppedDead: [],
    resolvedReservations: [],
    skippedAlive: [],
    skippedForeign: [],
    survivors,
    durationMs: 0,
  };
}

function setup(opts: { dead: () => boolean; sweep: () => Promise<SweepReport> }) {
  const clock = new SimulatedClock(0);
  const logger = memoryLogger();
  const checksAt: number[] = [];
  const sweepsAt: number[] = [];
  const watch = new PeerWatch({
    intervalMs: 1000,
    backoffMs: 30_000,
    clock,
    logger,
    anyDeadRun: () => {
      checksAt.push(clock.now());
      return opts.dead();
    },
    sweep: () => {
      sweepsAt.push(clock.now());
      return opts.sweep();
    },
  });
  return { clock, logger, watch, checksAt, sweepsAt };
}

describe('PeerWatch', () => {
  test('one cheap check per interval; a sweep only when a run is dead', async () => {
    let dead = false;
    const s = setup({ dead: () => dead, sweep: async () => report() });
    s.watch.start();
    await s.clock.advance(999);
    assert.deepEqual(s.checksAt, []);
    await s.clock.advance(3001);
    assert.deepEqual(s.checksAt, [1000, 2000, 3000, 4000]);
    assert.deepEqual(s.sweepsAt, []);
    dead = true;
    await s.clock.advance(1000);
    assert.deepEqual(s.sweepsAt, [5000]);
    await s.watch.stop();
    await s.clock.advance(10_000);
    assert.equal(s.checksAt.length, 5, 'no check after stop');
  });

  test('a sweep that leaves survivors, or a failed check, backs off instead of retrying every tick', async () => {
    let fail = false;
    const s = setup({
      dead: () => {
        if (fail) throw new Error('No space left on device');
        return true;
      },
      sweep: async () => report([{ runId: 'r', source: 'record', pid: 42 }]),
    });
    s.watch.start();
    await s.clock.advance(1000);
    assert.deepEqual(s.sweepsAt, [1000]);
    await s.clock.advance(29_999);
    assert.deepEqual(s.sweepsAt, [1000], 'no retry before the back-off');
    await s.clock.advance(1);
    assert.deepEqual(s.sweepsAt, [1000, 31_000]);
    fail = true;
    await s.clock.advance(30_000);
    assert.equal(s.checksAt.at(-1), 61_000);
    assert.match(s.logger.entries.at(-1)!.message, /periodic check for dead runs failed: No space left/);
    await s.clock.advance(29_999);
    assert.equal(s.checksAt.at(-1), 61_000, 'a failed check backs off too');
    await s.watch.stop();
  });

  test('never two sweeps at once; stop() waits for the sweep in progress', async () => {
    let finish: (() => void) | undefined;
    const s = setup({
      dead: () => true,
      sweep: () =>
        new Promise<SweepReport>((resolve) => {
          finish = () => resolve(report());
        }),
    });
    s.watch.start();
    await s.clock.advance(1000);
    assert.deepEqual(s.sweepsAt, [1000]);
    await s.clock.advance(5000);
    assert.deepEqual(s.sweepsAt, [1000], 'the timer is re-armed only when the sweep ends');
    let stopped = false;
    const stopping = s.watch.stop().then(() => {
      stopped = true;
    });
    await s.clock.advance(0);
    assert.equal(stopped, false, 'stop() waits for the sweep');
    finish!();
    await stopping;
    assert.equal(stopped, true);
    await s.clock.advance(10_000);
    assert.deepEqual(s.sweepsAt, [1000], 'nothing after stop');
  });
});
