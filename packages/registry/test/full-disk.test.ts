/**
 * A full or read-only filesystem under the registry (issue 13, defect 4). Each test mounts a small
 * tmpfs of its own (root only: without root the tests are skipped with a message; CI runs as root),
 * so "full" and "read-only" are the kernel's, not a simulation:
 *
 * - starting on a full filesystem gives ERR_REGISTRY_UNAVAILABLE with the path and the fix (it was a
 *   silent SIGBUS, exit 135, leaving a 0-byte registry.mdb);
 * - a disk that fills while running refuses new spawns with the same error, the host lives on, and
 *   spawns work again once there is room;
 * - a read-only registry directory still reaps the previous run's orphans by their run marker in
 *   /proc, then stops with the clear error.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type ProcessHandle, readProcStat, SimulatedClock, spawnProcess } from '@trellis/core';
import { childStatus, REGISTRY_DEFAULTS, Registry } from '../src/index.js';
import {
  alive,
  assertNoneLeft,
  byArgv0,
  Cleanup,
  groupMembers,
  HOST_FIXTURE,
  Host,
  memoryLogger,
  waitFor,
} from './helpers.js';

const cleanup = new Cleanup();
const markers: string[] = [];
after(() => cleanup.run());

const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT = isRoot ? false : 'needs root to mount a tmpfs (CI runs as root, so it runs there)';

/** A tmpfs mounted for one test; `unmount()` in `finally`. */
class Tmpfs {
  readonly dir: string;
  #fills = 0;
  #binds: string[] = [];

  constructor(sizeKiB: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', this.dir], {
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      rmdirSync(this.dir);
      throw new Error(`mount tmpfs failed: ${r.stderr}`);
    }
  }

  /** Writes a file until the filesystem says ENOSPC. */
  fill(): string {
    const path = join(this.dir, `fill-${++this.#fills}`);
    const fd = openSync(path, 'w');
    const block = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, block);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
    // Smaller writes take the last partial block.
    const fd2 = openSync(path, 'a');
    try {
      for (;;) writeSync(fd2, Buffer.alloc(512, 1));
    } catch {
      // full
    } finally {
      closeSync(fd2);
    }
    return path;
  }

  /**
   * Makes `path` read-only in place: a read-only bind mount over itself, so the path (and so the home
   * tag in run ids) stays the same. Remounting the whole tmpfs read-only is refused while a process
   * holds a file open for writing, and the crashed host's children do: they inherit LMDB's descriptor
   * of registry.mdb.
   */
  readOnly(path: string): void {
    for (const args of [
      ['--bind', path, path],
      ['-o', 'remount,bind,ro', path],
    ]) {
      const r = spawnSync('mount', args, { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      if (args[0] === '--bind') this.#binds.push(path);
    }
  }

  unmount(): void {
    for (const b of this.#binds.reverse()) spawnSync('umount', [b]);
    let r = spawnSync('umount', [this.dir], { encoding: 'utf8' });
    if (r.status !== 0) r = spawnSync('umount', ['-l', this.dir], { encoding: 'utf8' });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts the host fixture and waits for it to exit (it cannot get ready here). */
async function hostThatFails(
  home: string,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, [HOST_FIXTURE, home, '300', 'trellis-test-marker'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  cleanup.pids.add(child.pid!);
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  child.stdout!.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
    child.once('exit', (c, s) => r([c, s])),
  );
  clearTimeout(timer);
  return { code, signal, stderr };
}

describe('a full or read-only filesystem under TRELLIS_HOME', { skip: NEEDS_ROOT }, () => {
  test('starting on a full filesystem: ERR_REGISTRY_UNAVAILABLE with the path and the fix, no SIGBUS', async () => {
    const fs = new Tmpfs(512);
    try {
      fs.fill();
      const home = join(fs.dir, 'home');
      const r = await hostThatFails(home);
      assert.equal(r.signal, null, `the host died of ${r.signal} (was SIGBUS, exit 135): ${r.stderr}`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /ERR_REGISTRY_UNAVAILABLE/);
      assert.match(r.stderr, new RegExp(`cannot use the process registry at ${join(home, 'registry.mdb')}`));
      assert.match(r.stderr, /the filesystem is full: free space on it, or point TRELLIS_HOME/);
      assert.equal(existsSync(join(home, 'registry.mdb')), false, 'no 0-byte registry.mdb is left behind');

      // In process, the same as a typed error.
      await assert.rejects(Registry.open({ dir: home, logger: memoryLogger() }), (err: any) => {
        assert.equal(err.code, 'ERR_REGISTRY_UNAVAILABLE');
        assert.equal(err.details.reason, 'disk_full');
        assert.equal(err.details.path, join(home, 'registry.mdb'));
        return true;
      });
    } finally {
      fs.unmount();
    }
  });

  test('a disk that fills while running: spawns are refused with the error, the host lives on, and recover', async () => {
    const fs = new Tmpfs(4096);
    const handles: ProcessHandle[] = [];
    let registry: Registry | undefined;
    try {
      const home = join(fs.dir, 'home');
      registry = await Registry.open({ dir: home, graceMs: 300, logger: memoryLogger() });
      markers.push(registry.marker);
      // bash, not sleep: the run marker is appended to the arguments (bash takes it as $1).
      const SLEEP = ['-c', 'sleep 300; exit 0', 'trellis-test-marker'];
      const first = await spawnProcess('bash', SLEEP, { stdio: 'ignore', role: 'test', name: 'before' });
      handles.push(first);
      cleanup.groups.add(first.pgid);
      const fill = fs.fill();

      // Records keep going into pages LMDB already has until the file must grow: then the refusal.
      let refusal: any;
      for (let i = 0; i < 2000 && refusal === undefined; i++) {
        try {
          const h = await spawnProcess('bash', [...SLEEP, 'x'.repeat(2000)], {
            stdio: 'ignore',
            role: 'test',
            name: `while-full-${i}`,
          });
          handles.push(h);
          cleanup.groups.add(h.pgid);
        } catch (err) {
          refusal = err;
        }
      }
      assert.ok(refusal, 'a spawn was refused once the disk was full');
      assert.equal(refusal.code, 'ERR_REGISTRY_UNAVAILABLE', String(refusal));
      assert.match(
        refusal.message,
        new RegExp(`at ${join(home, 'registry.mdb')}: .*No space left on device`),
      );
      assert.match(refusal.message, /the filesystem is full/);
      assert.ok(alive(first.pid, first.startTime), 'children already running are untouched');
      assert.ok(
        registry.listChildren().some((c) => c.pid === first.pid),
        'the registry still reads',
      );

      rmSync(fill);
      const after = await spawnProcess('bash', SLEEP, { stdio: 'ignore', role: 'test', name: 'after' });
      handles.push(after);
      cleanup.groups.add(after.pgid);
      const stop = await registry.stopAll();
      assert.deepEqual(stop.survivors, []);
      for (const h of handles) assert.deepEqual(groupMembers(h.pgid), [], 'stopAll stops every child');
    } finally {
      await registry?.close();
      fs.unmount();
    }
  });

  test('a child that exits while the disk is full: its record goes once there is room again, without a sweep', async () => {
    // The chaos flake "registry = live processes: record pool-a/worker-0: dead": a recycled worker
    // exited during the disk-full fault, the store refused to remove its record, and the record stayed
    // (marked dead) for the rest of the run.
    const fs = new Tmpfs(4096);
    const clock = new SimulatedClock();
    let registry: Registry | undefined;
    try {
      const home = join(fs.dir, 'home');
      const logger = memoryLogger();
      registry = await Registry.open({ dir: home, graceMs: 300, clock, logger });
      markers.push(registry.marker);
      const child = await spawnProcess('bash', ['-c', 'sleep 300; exit 0', 'trellis-test-marker'], {
        stdio: 'ignore',
        role: 'test',
        name: 'exits-while-full',
      });
      cleanup.groups.add(child.pgid);
      const fill = fs.fill();
      child.kill('SIGKILL');
      await child.exited; // its untrack has run, on a full disk
      const left = registry.listChildren().filter((c) => c.name === 'exits-while-full');
      assert.equal(left.length, 1, 'the refused removal leaves the record for now');
      assert.equal(childStatus(left[0]!), 'dead');
      assert.ok(
        logger.entries.some((e) =>
          /record of an exited child stays until the registry can write again/.test(e.message),
        ),
        logger.entries.map((e) => e.message).join('\n'),
      );

      await clock.advance(REGISTRY_DEFAULTS.removalRetryMs); // still full: kept, tried again later
      assert.equal(registry.listChildren().filter((c) => c.name === 'exits-while-full').length, 1);
      rmSync(fill);
      await clock.advance(REGISTRY_DEFAULTS.removalRetryMs);
      assert.deepEqual(
        registry.listChildren().filter((c) => c.name === 'exits-while-full'),
        [],
        'the record of the exited child is removed once the disk has room',
      );
    } finally {
      await registry?.close();
      fs.unmount();
    }
  });

  test('a read-only registry directory: the previous run’s orphans are reaped by marker, then a clear error', async () => {
    const fs = new Tmpfs(4096);
    try {
      const home = join(fs.dir, 'home');
      const crashed = await Host.start(home, cleanup);
      markers.push(crashed.marker);
      const orphan = await crashed.spawn(cleanup, 'bash', [
        '-c',
        "setsid -f bash -c 'exec -a trellis-test-marker-escaped-ro sleep 300'; (exec -a trellis-test-marker-sleep sleep 300) & wait",
        'trellis-test-marker',
      ]);
      await waitFor(() => byArgv0('trellis-test-marker-escaped-ro').length === 1, 'the escaped descendant');
      const [escapee] = byArgv0('trellis-test-marker-escaped-ro');
      cleanup.pids.add(escapee!);
      const escapeeStart = readProcStat(escapee!)!.startTime;
      await crashed.crash();
      fs.readOnly(home);

      const r = await hostThatFails(home);
      assert.equal(r.signal, null, r.stderr);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /ERR_REGISTRY_UNAVAILABLE/);
      assert.match(r.stderr, new RegExp(`cannot use the process registry at ${join(home, 'registry.mdb')}`));
      assert.match(r.stderr, /on a read-only filesystem: remount it read-write, or point TRELLIS_HOME/);
      assert.match(r.stderr, /reaped \d+ leftover process\(es\) of dead runs by their run marker/);
      // Reaped before the error: the app did not start, the orphans did not stay.
      assert.deepEqual(groupMembers(orphan.pgid), [], 'the orphan’s group is gone');
      assert.equal(alive(escapee!, escapeeStart), false, 'the escaped descendant is gone');
    } finally {
      fs.unmount();
    }
  });
});

test('no process carrying this file’s markers is left', () => {
  assertNoneLeft(markers);
});
