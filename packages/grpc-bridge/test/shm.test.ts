/**
 * Large payloads through shared memory on the call lane (src/shm/, trellis_worker/shm.py): the
 * Python tool sees the caller's bytes in place (0 copies, proved by where the NumPy array's buffer
 * lies), results built in ctx.shared_buffer come back the same way, the size limit is its own, and
 * no segment is left in /dev/shm: after each call, after a kill -9 of the worker, and after a kill -9
 * of the host (the registry's sweep). Its pools read results (`maxMappedBytes: 0`, TRELLIS_SHM_MAP=0
 * for the host fixture), so that worker segments are named files in /dev/shm, whose tracking this
 * proves; results mapped from sealed memfds: mapped-results.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { ToolPool } from '../src/index.js';
import { listSegments, SHM_NAME_PREFIX } from '../src/shm/segments.js';
import {
  alive,
  assertSweepRemovesSegments,
  openTestRun,
  rejectsWith,
  SDK_TOOLS,
  type TestRun,
  waitFor,
} from './helpers.js';

const MiB = 1024 * 1024;
const ourSegments = (): string[] => listSegments();

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

describe('a pool with shared-memory payloads', () => {
  let pool: ToolPool;
  before(async () => {
    pool = await ToolPool.start({
      tools: SDK_TOOLS,
      size: 1,
      name: 'shm',
      maxShmBytes: 64 * MiB,
      maxMappedBytes: 0,
    });
  });
  after(async () => {
    await pool.stop();
    assert.deepEqual(ourSegments(), []);
  });

  test('a large argument reaches a zero-copy tool in place: its NumPy buffer lies in the shared mapping', async () => {
    const data = Buffer.alloc(8 * MiB, 3);
    data[data.length - 1] = 9;
    const r = (await pool.call('shm_where', data)) as Record<string, unknown>;
    assert.equal(r.nbytes, 8 * MiB);
    assert.equal(r.first, 3);
    assert.equal(r.last, 9);
    assert.match(String(r.segment), new RegExp(`^/dev/shm/${SHM_NAME_PREFIX.replace('.', '\\.')}`));
    assert.deepEqual(ourSegments(), [], 'the segment is removed once the call is over');
  });

  test('below the threshold the bytes travel in the frame, as ordinary memory', async () => {
    const r = (await pool.call('shm_where', Buffer.alloc(1000, 5))) as Record<string, unknown>;
    assert.equal(r.segment, null);
    assert.equal(r.first, 5);
  });

  test('a result built in ctx.shared_buffer comes back whole, and its segment is removed', async () => {
    const out = (await pool.call('shm_fill', { n: 6 * MiB, value: 42 })) as Buffer;
    assert.equal(out.length, 6 * MiB);
    assert.equal(out[0], 42);
    assert.equal(out[out.length - 1], 42);
    assert.deepEqual(ourSegments(), []);
  });

  test('over maxShmBytes: ERR_PAYLOAD_TOO_LARGE for arguments (before sending) and for results', async () => {
    const err = await rejectsWith(pool.call('shm_where', Buffer.alloc(65 * MiB)), 'ERR_PAYLOAD_TOO_LARGE');
    assert.match(err.message, /maxShmBytes/);
    await rejectsWith(pool.call('shm_fill', { n: 65 * MiB, value: 1 }), 'ERR_PAYLOAD_TOO_LARGE');
    assert.deepEqual(ourSegments(), []);
    assert.equal(
      ((await pool.call('shm_where', Buffer.alloc(2 * MiB))) as { nbytes: number }).nbytes,
      2 * MiB,
    );
  });

  test('kill -9 of a worker holding segments on both sides: the call fails with the exit, no segment is left', async () => {
    const pid = pool.stats().workers[0]!.pid;
    const call = pool.call('shm_hold', Buffer.alloc(2 * MiB, 1));
    await waitFor(() => ourSegments().some((n) => n.includes(`.w${pid}.`)), 'the worker to allocate');
    process.kill(pid, 'SIGKILL');
    const err = await rejectsWith(call, 'ERR_WORKER_EXITED');
    assert.match(err.message, /SIGKILL/);
    await waitFor(() => ourSegments().length === 0, 'the dead worker segments to be removed');
  });
});

test('kill -9 of the host: the registry sweep of the next run removes the segments it left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-shm-'));
  const host = spawn(
    process.execPath,
    [new URL('./fixtures/shm-host.js', import.meta.url).pathname, dir, SDK_TOOLS, 'trellis-test-marker'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TRELLIS_SHM_MAP: '0' } },
  );
  try {
    const line = await new Promise<string>((res, rej) => {
      createInterface({ input: host.stdout! }).once('line', res);
      host.once('exit', (c) => rej(new Error(`host exited with ${c}`)));
    });
    const { pid, segments } = JSON.parse(line) as { pid: number; segments: string[] };
    assert.ok(segments.some((n) => n.includes('.h')) && segments.some((n) => n.includes(`.w${pid}.`)));
    host.kill('SIGKILL');
    await waitFor(() => !alive(pid), 'the worker to exit after its host');
    const left = listSegments(SHM_NAME_PREFIX).filter((n) => segments.includes(n));
    assert.ok(left.length > 0, 'nobody removed them yet: the host died first');
    await assertSweepRemovesSegments(dir, segments);
  } finally {
    if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
