/**
 * A worker reuses the memfd of a large result it sent once the host has unmapped it
 * (trellis_worker/shm.py, _Parked): allocating and zeroing a fresh 100 MiB memfd costs more than
 * copying it. The host maps results MAP_PRIVATE, so pages it has not written still show the file:
 * a result the caller still holds must keep its bytes while the worker builds later results of the
 * same size, and a reused buffer must read as zeros, as a fresh one does.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ToolPool } from '../src/index.js';
import { mappedResults, resultMappingAvailable } from '../src/shm/mapped-results.js';
import { listSegments } from '../src/shm/segments.js';
import { openTestRun, type TestRun, waitFor } from './helpers.js';

const MiB = 1024 * 1024;
const N = 16 * MiB; // shm.py's REUSE_MIN_BYTES: smaller memfds are not parked
const REUSE_TOOLS = new URL('../../test/fixtures/reuse_tools.py', import.meta.url).pathname;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// Where results are read, not mapped (the addon did not load), the host asks for files in
// /dev/shm, not memfds, and removes them: nothing to reuse.
const NO_MAPS = resultMappingAvailable()
  ? false
  : 'results are read, not mapped, here (the trellis_mmap addon did not load)';

/** This process's mappings of result memfds, as the kernel lists them (what the worker reads). */
function mapsOfResults(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/memfd:trellis-result')).length;
}

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

function every(b: Buffer, value: number): boolean {
  return b.length === N && b.every((x) => x === value);
}

describe('reuse of result memfds by the worker', { skip: NO_MAPS }, () => {
  let pool: ToolPool;
  before(async () => {
    pool = await ToolPool.start({ tools: [REUSE_TOOLS], size: 1, name: 'reuse' });
  });
  after(async () => {
    await pool.stop();
    assert.deepEqual(listSegments(), []);
  });

  test('a result the caller holds keeps its bytes while later results of its size are built', async () => {
    let first: Buffer | undefined = (await pool.call('fill', { n: N, value: 1 })) as Buffer;
    let second: Buffer | undefined = (await pool.call('fill', { n: N, value: 2 })) as Buffer;
    const third = (await pool.call('fill', { n: N, value: 3 })) as Buffer;
    assert.ok(every(first, 1) && every(second, 2) && every(third, 3));
    const [a, b, c] = (await pool.call('inodes')) as number[];
    assert.equal(mappedResults().count, 3);
    assert.equal(mapsOfResults(), 3);
    assert.equal(new Set([a, b, c]).size, 3, 'no memfd the host still maps was reused');
    // Once the caller drops them (and the host unmaps them at GC), the worker reuses them.
    first = undefined;
    second = undefined;
    await waitFor(() => {
      gc();
      return mappedResults().count === 1 && mapsOfResults() === 1;
    }, 'the first two results to be unmapped');
    const head = (await pool.call('fill_head', { n: N, value: 9 })) as Buffer;
    const d = ((await pool.call('inodes')) as number[])[3];
    assert.ok([a, b].includes(d!), `a released, unmapped memfd is reused (${d} not in ${a}, ${b})`);
    assert.equal(head[0], 9);
    assert.ok(
      head.subarray(1).every((x) => x === 0),
      'a reused buffer reads as zeros past what the tool wrote',
    );
    assert.ok(every(third, 3), 'the result still held is untouched');
  });

  test('kill -9 of a worker holding parked memfds leaves nothing in /dev/shm; its results stay whole', async () => {
    const held = (await pool.call('fill', { n: N, value: 4 })) as Buffer;
    const pid = pool.stats().workers[0]!.pid;
    // The worker keeps its released memfds (parked) and maps them: they are in its maps.
    assert.ok(readFileSync(`/proc/${pid}/maps`, 'utf8').includes('/memfd:trellis-result'));
    process.kill(pid, 'SIGKILL');
    await waitFor(() => pool.stats().workers.every((w) => w.pid !== pid), 'the worker to be replaced');
    assert.deepEqual(listSegments(), []);
    assert.ok(every(held, 4), 'a mapped result outlives the worker that made it');
  });
});
