/**
 * No room in shared memory (trellis_worker/shm.py `_fill_pages`, call/errors.ts): a result segment
 * the worker cannot allocate fails its call with ERR_SHM_FULL, naming the limit to raise, and loses
 * nothing: the worker lives on, serves the next call, and leaves nothing in /dev/shm. Before
 * posix_fallocate, such a worker died of SIGBUS at the tool's first write. The worker's file size is
 * capped (RLIMIT_FSIZE, shm_full_tools.py) instead of filling the machine's /dev/shm, which other
 * processes share. Both ways a result travels: a memfd the host maps, and a /dev/shm file it reads
 * (TRELLIS_SHM_MAP=0).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ToolPool } from '../src/index.js';
import { listSegments } from '../src/shm/segments.js';
import { openTestRun, rejectsWith, type TestRun } from './helpers.js';

const MiB = 1024 * 1024;
const TOOLS = new URL('../../test/fixtures/shm_full_tools.py', import.meta.url).pathname;

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

for (const map of [true, false]) {
  test(`a result with no room in shared memory fails with ERR_SHM_FULL, and the worker serves on (${map ? 'memfd, mapped' : '/dev/shm file, read'})`, async () => {
    const saved = process.env.TRELLIS_SHM_MAP;
    if (!map) process.env.TRELLIS_SHM_MAP = '0';
    const before = listSegments().length;
    // 64 KiB threshold: the small result below travels through shared memory too.
    const pool = await ToolPool.start({
      tools: [TOOLS],
      size: 1,
      name: `shm-full-${map}`,
      shmThresholdBytes: 64 * 1024,
    });
    try {
      const pid = pool.stats().workers[0]!.pid;
      const err = await rejectsWith(pool.call('fill', { n: 4 * MiB, value: 3 }), 'ERR_SHM_FULL');
      assert.match(err.message, /no room for a shared-memory segment of 4194304 bytes.*--shm-size/s);
      // Under the cap: shared memory still works for this worker, and it is the same process.
      const small = (await pool.call('fill', { n: MiB / 2, value: 5 })) as Buffer;
      assert.equal(small.length, MiB / 2);
      assert.ok(small.every((b) => b === 5));
      assert.equal(pool.stats().workers[0]!.pid, pid, 'the worker was not restarted');
    } finally {
      await pool.stop();
      if (saved === undefined) delete process.env.TRELLIS_SHM_MAP;
      else process.env.TRELLIS_SHM_MAP = saved;
    }
    assert.equal(listSegments().length, before, 'nothing is left in /dev/shm');
  });
}
