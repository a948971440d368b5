/**
 * The driver's host-memory verdict (verdicts.ts rssFlat): it judges when run B has enough samples
 * after its warm-up, and says "not enough samples" (skipped, with the reason) when it has not,
 * instead of failing the run on arithmetic (seed 1334467441 at 30 s: the host kill at 14.2 s left
 * run B 3 samples after the 10 s warm-up).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHAOS_DEFAULTS } from '../src/defaults.js';
import { verdictWord } from '../src/ipc.js';
import type { ResourceSample } from '../src/sampler.js';
import { RSS_MIN_SAMPLES, rssFlat } from '../src/verdicts.js';

const MB = 1024 * 1024;
const READY_AT = 15_000;
const { warmupMs } = CHAOS_DEFAULTS.rssBound;

/** One sample a second from `fromMs`, host RSS given by `mb(i)`. */
function samples(fromMs: number, n: number, mb: (i: number) => number): ResourceSample[] {
  return Array.from({ length: n }, (_, i) => ({
    tMs: fromMs + i * 1000,
    hostRssBytes: mb(i) * MB,
    hostHeapUsedBytes: 0,
    hostFds: undefined,
    calls: 0,
    ok: 0,
    errors: 0,
    throughput: 0,
    p50Ms: undefined,
    p99Ms: undefined,
    workers: [],
    load1: 0,
  }));
}

describe('host RSS flat', () => {
  test('too few samples after the warm-up: skipped with the reason, not failed', () => {
    const few = samples(READY_AT, 10 + RSS_MIN_SAMPLES - 1, () => 100);
    const after = few.filter((s) => s.tMs >= READY_AT + warmupMs).length;
    assert.equal(after, RSS_MIN_SAMPLES - 1);
    const v = rssFlat(few, READY_AT);
    assert.equal(v.check.skipped, true);
    assert.equal(v.check.ok, true);
    assert.equal(verdictWord(v.check), 'SKIP');
    assert.match(v.check.detail, new RegExp(`not enough samples: ${after} after the 10 s warm-up`));
    assert.equal(v.startMb, undefined);
  });

  test('enough samples: flat memory passes, growth past the bound fails (the skip is no blanket pass)', () => {
    const flat = rssFlat(
      samples(READY_AT, 30, () => 100),
      READY_AT,
    );
    assert.equal(flat.check.skipped, undefined);
    assert.equal(verdictWord(flat.check), 'PASS');
    assert.equal(flat.startMb, 100);

    const growing = rssFlat(
      samples(READY_AT, 30, (i) => 100 + i * 20),
      READY_AT,
    );
    assert.equal(growing.check.skipped, undefined);
    assert.equal(growing.check.ok, false);
    assert.equal(verdictWord(growing.check), 'FAIL');
  });
});
