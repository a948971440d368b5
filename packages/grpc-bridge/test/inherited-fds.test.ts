/**
 * No process Trellis starts holds a Trellis LMDB file. LMDB opens each environment's data file
 * without O_CLOEXEC, and Node.js closes nothing at exec: before @trellis/home's closeOnExec, every
 * child spawned after `Registry.open` (a Python worker, every subprocess of its tools, etcd, the
 * app's own children) held registry.mdb open read-write (`/proc/<child>/fd/19 -> .../registry.mdb`).
 *
 * Real LMDB files (the registry, the health store and the lease store), real processes: a child of
 * core's spawnProcess, a plain child_process.spawn (every other spawn site: etcd, openssl, uv, the
 * app's own), a Python worker of a ToolPool, and what its tool starts with Popen(close_fds=False),
 * os.system and setsid. Then the fallback without the addon: the Python side closes what it got.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { getLogger, setLogger, spawnProcess, type TrellisLogger } from '@trellis/core';
import { HealthStore, LmdbLeaseStore } from '@trellis/health';
import { ToolPool } from '../src/index.js';
import { openTestRun, SDK_TOOLS, type TestRun } from './helpers.js';

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

/** What `pid`'s descriptors point at (all of them, as /proc links). */
function links(pid: number | 'self'): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The LMDB files (data and lock) among `all`, for the homes in `dirs`. */
function lmdbIn(all: readonly string[], dirs: readonly string[]): string[] {
  const homes = dirs.map((d) => `${realpathSync(d)}/`);
  return all.filter((l) => homes.some((h) => l.startsWith(h)) && /\.mdb(-lock)?( \(deleted\))?$/.test(l));
}

/** Spawns `sleep` the plain Node.js way; libuv returns once the child has exec'd. */
function plainChild(): ChildProcess {
  return spawn('sleep', ['30'], { stdio: 'ignore' });
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}

test('no child holds the registry, health or lease file: spawnProcess, child_process.spawn, a Python worker and its tool subprocesses; a file opened after a spawn neither', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'trellis-test-marker-fds-'));
  const later = mkdtempSync(join(tmpdir(), 'trellis-test-marker-fds-later-'));
  const health = HealthStore.open(run.dir);
  const leases = LmdbLeaseStore.open({ dir: run.dir });
  let laterHealth: HealthStore | undefined;
  let pool: ToolPool | undefined;
  const children: ChildProcess[] = [];
  try {
    // The test looks at the right files: this process holds all three (data and lock each).
    const ours = lmdbIn(links('self'), [run.dir]).map((l) => l.slice(l.lastIndexOf('/') + 1));
    for (const f of ['registry.mdb', 'health.mdb', 'leases.mdb', 'registry.mdb-lock'])
      assert.ok(ours.includes(f), `this process holds ${f}: ${ours.join(', ')}`);

    const tracked = await spawnProcess('/bin/sleep', ['30'], { role: 'test', stdio: 'ignore' });
    try {
      assert.deepEqual(lmdbIn(links(tracked.pid), [run.dir]), [], 'a spawnProcess child');
    } finally {
      tracked.kill('SIGKILL');
      await tracked.exited;
    }

    const plain = plainChild();
    children.push(plain);
    assert.deepEqual(lmdbIn(links(plain.pid!), [run.dir]), [], 'a child_process.spawn child');

    pool = await ToolPool.start({ name: 'fds', tools: [SDK_TOOLS], size: 1 });
    const worker = pool.stats().workers[0]!.pid;
    assert.deepEqual(lmdbIn(links(worker), [run.dir]), [], 'the Python worker');
    const seen = (await pool.call('descriptors', { scratch })) as Record<string, string[]>;
    assert.deepEqual(Object.keys(seen).sort(), ['escaped', 'popen', 'system', 'worker']);
    for (const [who, l] of Object.entries(seen))
      assert.deepEqual(lmdbIn(l, [run.dir]), [], `the worker's tool: ${who}`);

    // Opened after the first spawns (health files are opened lazily by monitors): the children
    // spawned from then on do not get it either.
    laterHealth = HealthStore.open(later);
    assert.deepEqual(
      [...new Set(lmdbIn(links('self'), [later]).map((l) => l.slice(l.lastIndexOf('/') + 1)))].sort(),
      ['health.mdb', 'health.mdb-lock'],
      'this process holds the later health file',
    );
    const afterOpen = plainChild();
    children.push(afterOpen);
    assert.deepEqual(
      lmdbIn(links(afterOpen.pid!), [run.dir, later]),
      [],
      'a child spawned after a later open',
    );
  } finally {
    await pool?.stop();
    for (const c of children) await stopChild(c);
    await health.close();
    await leases.close();
    await laterHealth?.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(later, { recursive: true, force: true });
  }
});

test('without the addon (TRELLIS_FD_CLOEXEC=0, as on a build without a compiler) a plain child still inherits the file, but a Python worker and its tool subprocesses do not', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'trellis-test-marker-fds-'));
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-fds-noaddon-'));
  process.env.TRELLIS_FD_CLOEXEC = '0';
  const prev = getLogger();
  const warned: Record<string, unknown>[] = [];
  const capture: TrellisLogger = Object.assign(Object.create(prev) as TrellisLogger, {
    warn: (fields: Record<string, unknown>, msg?: string) => warned.push({ ...fields, msg }),
  });
  setLogger(capture);
  let health: HealthStore | undefined;
  let leases: LmdbLeaseStore | undefined;
  let pool: ToolPool | undefined;
  let plain: ChildProcess | undefined;
  try {
    health = HealthStore.open(dir);
    leases = LmdbLeaseStore.open({ dir });
    // Logged once per process, not per file.
    assert.deepEqual(
      warned.map((w) => w.reason),
      ['TRELLIS_FD_CLOEXEC=0'],
    );
    // The fallback's limit, and proof that this test sees an inherited descriptor when there is one.
    plain = plainChild();
    assert.deepEqual(
      lmdbIn(links(plain.pid!), [dir]).map((l) => l.slice(l.lastIndexOf('/') + 1)),
      ['health.mdb', 'leases.mdb'],
      'a plain child inherits the data files (only the lock and meta descriptors are close-on-exec in LMDB)',
    );
    pool = await ToolPool.start({ name: 'fds-fallback', tools: [SDK_TOOLS], size: 1 });
    const worker = pool.stats().workers[0]!.pid;
    assert.deepEqual(lmdbIn(links(worker), [dir]), [], 'the Python worker closed it at start');
    const seen = (await pool.call('descriptors', { scratch })) as Record<string, string[]>;
    for (const [who, l] of Object.entries(seen))
      assert.deepEqual(lmdbIn(l, [dir]), [], `the worker's tool: ${who}`);
  } finally {
    delete process.env.TRELLIS_FD_CLOEXEC;
    setLogger(prev);
    await pool?.stop();
    if (plain) await stopChild(plain);
    await health?.close();
    await leases?.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
