/**
 * Arrow tables through the bridge (src/arrow.ts, trellis_worker/arrow.py): an apache-arrow Table
 * argument reaches a tool as a pyarrow Table whose column data lies in the shared-memory mapping
 * (no copy in Python), and a pyarrow Table result comes back as an apache-arrow Table, over the
 * lane (large: shared memory; small: in the frame) and over gRPC unary.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Table, tableFromArrays } from 'apache-arrow';
import { ToolPool } from '../src/index.js';
import { listSegments } from '../src/shm/segments.js';
import { openTestRun, type TestRun } from './helpers.js';

const ARROW_TOOLS = fileURLToPath(new URL('../../test/fixtures/arrow_tools.py', import.meta.url));

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

const table = (n: number): Table =>
  tableFromArrays({ x: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) });
const sum = (n: number): number => (n * (n - 1)) / 2;

for (const lane of [true, false]) {
  describe(`Arrow tables, ${lane ? 'over the lane' : 'over gRPC unary'}`, () => {
    let pool: ToolPool;
    before(async () => {
      pool = await ToolPool.start({ tools: ARROW_TOOLS, size: 1, name: `arrow-${lane}`, lane });
    });
    after(async () => {
      await pool.stop();
      assert.deepEqual(listSegments(), []);
    });

    test('a Table argument arrives as a pyarrow Table', async () => {
      const n = lane ? 400_000 : 1000; // 3.2 MB of int64 over the lane: through shared memory
      const r = (await pool.call('arrow_where', table(n))) as {
        rows: number;
        sum: number;
        segment: string | null;
      };
      assert.equal(r.rows, n);
      assert.equal(r.sum, sum(n));
      if (lane)
        assert.match(String(r.segment), /^\/dev\/shm\/trellis-shm\./, 'column x is read in the mapping');
      else assert.equal(r.segment, null);
      assert.deepEqual(listSegments(), [], 'the segment is removed once the call is over');
    });

    test('a pyarrow Table result comes back as an apache-arrow Table', async () => {
      for (const n of [3, 200_000]) {
        const t = (await pool.call('arrow_make', { n })) as Table;
        assert.equal(t.numRows, n);
        assert.equal(t.schema.fields.map((f) => f.name).join(','), 'x,label');
        assert.equal(t.getChild('x')!.get(n - 1), BigInt(n - 1));
        assert.equal(t.getChild('label')!.get(n - 1), `r${n - 1}`);
      }
    });
  });
}

test('without apache-arrow in the app: a table result fails with ERR_ARROW_MISSING naming what to install; raw: true still works', async () => {
  const host = fileURLToPath(new URL('./fixtures/no-arrow-host.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [host, ARROW_TOOLS, 'trellis-test-marker'], {
    timeout: 60_000,
  });
  // Its pool logs to stdout too: the answer is the line with rawType.
  const out = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { code: string; message: string; rawType?: string })
    .find((o) => o.rawType !== undefined)!;
  assert.equal(out.code, 'ERR_ARROW_MISSING');
  assert.match(out.message, /npm install apache-arrow/);
  assert.match(out.message, /raw: true/);
  assert.equal(out.rawType, 'application/vnd.apache.arrow.stream');
});
