/**
 * Network partitions between real processes in Linux network namespaces (needs root; CI runs as
 * root): three leader-partition trials (the bench `pnpm bench cluster` runs twenty). In each, the
 * cut-off leader steps down before the other side is granted the lease (no overlap), its late
 * fenced write is refused after the heal, and it rejoins as a new incarnation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { netnsAvailable } from './netns.js';
import { type PartitionLab, runTrial, startPartitionLab } from './partition-trials.js';

const skip = netnsAvailable();
let p: PartitionLab | undefined;

describe('partitions in network namespaces', { skip }, () => {
  before(async () => {
    p = await startPartitionLab(['n1', 'n2']);
  });
  after(async () => {
    await p?.cleanup.run();
  });

  test('3 trials: the old leader steps down before the takeover, its late write is refused, it rejoins as a new incarnation', async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await runTrial(p!, i);
      assert.ok(r.gapMs > 0, `trial ${i}: overlap of ${-r.gapMs} ms (${JSON.stringify(r)})`);
      assert.ok(r.newEpoch > r.oldEpoch, `trial ${i}: epoch ${r.oldEpoch} -> ${r.newEpoch}`);
      assert.ok(r.lateWriteRefused, `trial ${i}: late write refused`);
      assert.ok(
        r.newIncarnation > r.oldIncarnation,
        `trial ${i}: incarnation ${r.oldIncarnation} -> ${r.newIncarnation}`,
      );
    }
  });
});
