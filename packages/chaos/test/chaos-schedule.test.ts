/**
 * The seeded schedule: a replay with the same seed gives the same faults, at the same times, with
 * the same target choices; the rules about where faults may fall hold for any seed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHAOS_DEFAULTS } from '../src/defaults.js';
import { Prng } from '../src/prng.js';
import { buildSchedule, FAULT_KINDS } from '../src/schedule.js';

describe('seeded fault schedule', () => {
  test('the same seed replays the same schedule; another seed does not', () => {
    const a = buildSchedule(4242, 120_000);
    const b = buildSchedule(4242, 120_000);
    assert.deepEqual(a, b);
    assert.ok(a.faults.length > 20, `a 2-minute run has ${a.faults.length} faults`);
    const c = buildSchedule(4243, 120_000);
    assert.notDeepEqual(
      c.faults.map((f) => [f.atMs, f.kind]),
      a.faults.map((f) => [f.atMs, f.kind]),
    );
    assert.notEqual(c.hostKillAtMs, a.hostKillAtMs);
  });

  test('every kind appears; none in the lead, the tail or while the host restarts', () => {
    for (const seed of [1, 2, 3, 99, 123456789]) {
      const s = buildSchedule(seed, 120_000);
      const kinds = new Set(s.faults.map((f) => f.kind));
      for (const k of FAULT_KINDS) assert.ok(kinds.has(k), `seed ${seed}: ${k} missing`);
      const [k0, k1] = CHAOS_DEFAULTS.hostKillWindow;
      assert.ok(s.hostKillAtMs! >= 120_000 * k0 && s.hostKillAtMs! <= 120_000 * k1);
      for (const f of s.faults) {
        assert.ok(f.atMs >= CHAOS_DEFAULTS.faultLeadMs, `fault at ${f.atMs} in the lead`);
        assert.ok(f.atMs < 120_000 - CHAOS_DEFAULTS.faultTailMs, `fault at ${f.atMs} in the tail`);
        assert.ok(
          !(f.atMs >= s.hostKillAtMs! && f.atMs < s.hostKillAtMs! + 6000),
          `fault at ${f.atMs} while the host restarts`,
        );
      }
      const times = s.faults.map((f) => f.atMs);
      assert.deepEqual(
        times,
        [...times].sort((x, y) => x - y),
      );
    }
  });

  test('the 45-second CI run has room for every kind, whatever the seed', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const kinds = new Set(buildSchedule(seed, 45_000).faults.map((f) => f.kind));
      assert.equal(kinds.size, FAULT_KINDS.length, `seed ${seed}: only ${kinds.size} kinds`);
    }
  });

  test('derived streams are independent: drawing from one does not shift another', () => {
    const x1 = Prng.derive(7, 'schedule');
    const y1 = Prng.derive(7, 'fuzz:args');
    const first = [x1.uint32(), x1.uint32()];
    for (let i = 0; i < 100; i++) y1.uint32();
    const x2 = Prng.derive(7, 'schedule');
    assert.deepEqual([x2.uint32(), x2.uint32()], first);
    assert.notEqual(Prng.derive(7, 'a').uint32(), Prng.derive(7, 'b').uint32());
  });
});
