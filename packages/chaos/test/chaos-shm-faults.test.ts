/**
 * The shared-memory faults (shm-faults.ts) on a real pool of the chaos suite's pool-A tools: the
 * no-room call fails with ERR_SHM_FULL and the same worker then serves a large result byte-exact;
 * the non-dumpable worker's large result arrives byte-exact; nothing is left in /dev/shm. And their
 * judging: a result one byte off is `wrong`, and an exit of a worker such a fault hit (non-fatal)
 * is one nobody caused, which fails the run.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ToolPool } from '@trellis/grpc-bridge';
import { CHAOS_DEFAULTS } from '../src/defaults.js';
import type { FaultRecord } from '../src/fault-book.js';
import { CallLedger } from '../src/ledger.js';
import { matchFaults } from '../src/matcher.js';
import {
  expectedPattern,
  patternProblem,
  type ShmTarget,
  shmFull,
  workerNondumpable,
} from '../src/shm-faults.js';
import { TOOLS_A } from '../src/tree.js';

const segments = () => readdirSync('/dev/shm').filter((n) => n.startsWith('trellis-shm.'));

/** The fault's view of one worker of `pool`, its calls through `ledger`; `ended` names the code. */
function target(pool: ToolPool, ledger: CallLedger): ShmTarget<{ ended: string }> {
  return {
    call: <T>(tool: string, args: Record<string, unknown>, check?: (v: T) => string | undefined) =>
      ledger.run('fault', 5000, () => pool.call<T>(tool, args, { timeoutMs: 5000 }), check),
    ended: (code) => ({ ended: code }),
  };
}

for (const map of [true, false]) {
  describe(`shared-memory faults on a real pool-A worker (${map ? 'memfd results' : '/dev/shm files, TRELLIS_SHM_MAP=0'})`, () => {
    let pool: ToolPool;
    let saved: string | undefined;
    let before0: number;
    before(async () => {
      saved = process.env.TRELLIS_SHM_MAP;
      if (!map) process.env.TRELLIS_SHM_MAP = '0';
      before0 = segments().length;
      pool = await ToolPool.start({
        tools: [TOOLS_A],
        size: 1,
        name: `chaos-shm-${map}`,
        shmThresholdBytes: CHAOS_DEFAULTS.poolAShmThresholdBytes,
      });
    });
    after(async () => {
      await pool.stop();
      if (saved === undefined) delete process.env.TRELLIS_SHM_MAP;
      else process.env.TRELLIS_SHM_MAP = saved;
      assert.equal(segments().length, before0, 'nothing is left in /dev/shm');
    });

    test('shm-full: ERR_SHM_FULL, then the same worker serves a large result byte-exact', async () => {
      const pid = pool.stats().workers[0]!.pid;
      const ledger = new CallLedger({ slackMs: 1000 });
      const r = await shmFull(target(pool, ledger), 42);
      assert.equal('status' in r && r.status, 'non-fatal', JSON.stringify(r));
      const ops = ledger.snapshot().byOp.fault!;
      assert.deepEqual([ops.ok, ops.errors], [1, { ERR_SHM_FULL: 1 }]);
      assert.equal(pool.stats().workers[0]!.pid, pid, 'the worker was not replaced');
    });

    test('worker-nondumpable: the worker turned non-dumpable, its large result arrives byte-exact', async () => {
      const pid = pool.stats().workers[0]!.pid;
      const ledger = new CallLedger({ slackMs: 1000 });
      const r = await workerNondumpable(target(pool, ledger), 200);
      assert.equal('status' in r && r.status, 'non-fatal', JSON.stringify(r));
      assert.equal(ledger.snapshot().byOp.fault!.ok, 2);
      // And once more from the same, still non-dumpable, worker (a fresh allocation, not the first).
      const again = await shmFull(target(pool, ledger), 7);
      assert.equal('status' in again && again.status, 'non-fatal', JSON.stringify(again));
      assert.equal(pool.stats().workers[0]!.pid, pid);
    });
  });
}

test('a pattern one byte off, short or not bytes is a wrong result', () => {
  const n = 4096;
  assert.equal(patternProblem(expectedPattern(n, 9), n, 9), undefined);
  const off = expectedPattern(n, 9);
  off[1000] = (off[1000]! + 1) & 0xff;
  assert.match(patternProblem(off, n, 9)!, /^byte 1000 is/);
  assert.match(patternProblem(expectedPattern(n - 1, 9), n, 9)!, /4095 bytes, not 4096/);
  assert.match(patternProblem('x', n, 9)!, /not bytes/);
  assert.notEqual(patternProblem(expectedPattern(n, 10), n, 9), undefined);
});

test('an exit of a worker that only a shared-memory fault hit is unexplained: the run fails', () => {
  for (const kind of ['shm-full', 'worker-nondumpable'] as const) {
    const f: FaultRecord = {
      index: 0,
      kind,
      run: 'B',
      atMs: 1000,
      group: 'pool-a',
      target: '100',
      status: 'non-fatal',
      fatal: false,
      expect: [],
    };
    const clean = matchFaults({ faults: [f], exits: [], restarts: [], windowEnd: { B: Infinity } });
    assert.equal(clean.ok, true);
    const died = matchFaults({
      faults: [f],
      exits: [{ run: 'B', group: 'pool-a', target: '100', atMs: 1200, code: 'ERR_WORKER_EXITED' }],
      restarts: [{ run: 'B', group: 'pool-a', target: '101', atMs: 1500 }],
      windowEnd: { B: Infinity },
    });
    assert.equal(died.ok, false, kind);
    assert.deepEqual(
      died.groups[0]!.unexplained.map((e) => e.target),
      ['100'],
    );
    const recycled = matchFaults({
      faults: [f],
      exits: [],
      restarts: [],
      recycles: [{ run: 'B', group: 'pool-a', target: '100', atMs: 1200, reason: 'max_rss' }],
      windowEnd: { B: Infinity },
    });
    assert.equal(recycled.ok, false, `${kind}: a recycle it caused is unexplained`);
  }
});
