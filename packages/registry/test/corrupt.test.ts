import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { spawnProcess } from '@trellis/core';
import { open as openLmdb } from 'lmdb';
import { CorruptRegistryError, checkLmdbFile, Registry, RegistryStore } from '../src/index.js';
import {
  alive,
  assertNoneLeft,
  Cleanup,
  groupMembers,
  Host,
  memoryLogger,
  SHELL_TREE,
  waitFor,
} from './helpers.js';

const cleanup = new Cleanup();
const markers: string[] = [];
after(() => cleanup.run());

/** Deterministic garbage (a fixed linear congruential sequence), so every run corrupts the same way. */
function garbage(length: number, seed = 12345): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function dataFile(dir: string): string {
  return join(dir, 'registry.mdb');
}

function movedAside(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('.corrupt-'));
}

/** A dead run with a live orphan, as a crashed app leaves it. */
async function crashedHostWithOrphan(dir: string): Promise<{ pid: number; pgid: number; startTime: number }> {
  const host = await Host.start(dir, cleanup);
  markers.push(host.marker);
  const child = await host.spawn(cleanup, 'bash', SHELL_TREE, 'orphan');
  await waitFor(() => groupMembers(child.pgid).length === 3, 'the orphan tree');
  await host.crash();
  return child;
}

describe('bad registry files', () => {
  test('a file of garbage: the app starts, warns, moves it aside, and the live leftover is still reaped', async () => {
    const dir = cleanup.dir();
    const orphan = await crashedHostWithOrphan(dir);
    writeFileSync(dataFile(dir), garbage(statSync(dataFile(dir)).size));

    const log = memoryLogger();
    const registry = await Registry.open({ dir, graceMs: 300, logger: log });
    markers.push(registry.marker);
    const warning = log.entries.find((e) => e.level === 'warn');
    assert.ok(warning, 'a warning was logged');
    assert.match(warning.message, /unusable .*moved it aside .*registry\.mdb\.corrupt-/);
    assert.equal(registry.recovery?.movedAside.length, 2, 'data and lock file moved aside');
    for (const p of registry.recovery!.movedAside) assert.ok(existsSync(p));
    assert.ok(movedAside(dir).some((n) => n.startsWith('registry.mdb.corrupt-')));

    const report = registry.bootSweep!;
    assert.deepEqual(
      report.killed.map((k) => [k.source, k.pid]),
      [['marker', orphan.pid]],
      'found by its run marker although its record was lost',
    );
    assert.deepEqual(groupMembers(orphan.pgid), [], 'its grandchildren too');

    // The fresh registry works.
    const h = await spawnProcess('bash', SHELL_TREE, { stdio: 'ignore' });
    cleanup.groups.add(h.pgid);
    assert.equal(registry.listChildren(registry.runId)[0]?.pid, h.pid);
    await registry.stopAll();
    await registry.close();
  });

  test('a truncated file is refused before LMDB maps it (that would be SIGBUS)', async () => {
    const dir = cleanup.dir();
    const first = await Registry.open({ dir, logger: memoryLogger() });
    markers.push(first.marker);
    for (let i = 0; i < 200; i++)
      first.reserve({ role: 'r', name: `n${i}`, command: 'x'.repeat(200), args: [] });
    await first.close();
    assert.deepEqual(
      checkLmdbFile(dataFile(dir)),
      { ok: true, fresh: false },
      'a file LMDB wrote passes the check',
    );
    truncateSync(dataFile(dir), 5000);
    const check = checkLmdbFile(dataFile(dir));
    assert.equal(check.ok, false);

    const log = memoryLogger();
    const registry = await Registry.open({ dir, logger: log });
    markers.push(registry.marker);
    assert.ok(registry.recovery);
    assert.equal(log.entries.filter((e) => e.level === 'warn').length, 1);
    await registry.close();
  });

  test('damaged tree pages are refused before LMDB could abort on them, and the file moved aside', async () => {
    const dir = cleanup.dir();
    const first = await Registry.open({ dir, logger: memoryLogger() });
    markers.push(first.marker);
    for (let i = 0; i < 300; i++)
      first.reserve({ role: 'r', name: `n${i}`, command: 'x'.repeat(100), args: [] });
    await first.close();
    // Overwrite every page except the two meta pages and the tree roots they name: the roots are fine,
    // what they point to is garbage (this exact file made LMDB abort() on the first write).
    const buf = readFileSync(dataFile(dir));
    const psize = buf.readUInt32LE(48);
    const roots = new Set<number>();
    for (const m of [0, 1])
      for (const off of [88, 136]) roots.add(Number(buf.readBigUInt64LE(m * psize + off)));
    const noise = garbage(psize, 777);
    for (let page = 2; page * psize < buf.length; page++) if (!roots.has(page)) noise.copy(buf, page * psize);
    writeFileSync(dataFile(dir), buf);
    assert.equal(checkLmdbFile(dataFile(dir)).ok, false);

    const log = memoryLogger();
    const registry = await Registry.open({ dir, logger: log });
    markers.push(registry.marker);
    assert.ok(registry.recovery, 'moved aside');
    assert.match(registry.recovery.reason, /page \d+/);
    assert.deepEqual(registry.listChildren(), []);
    await registry.close();
  });

  test('a record that is not valid JSON is caught while reading every record at open', async () => {
    const dir = cleanup.dir();
    const first = await Registry.open({ dir, logger: memoryLogger() });
    markers.push(first.marker);
    first.reserve({ role: 'r', name: 'damaged', command: 'x', args: [] });
    await first.close();
    const buf = readFileSync(dataFile(dir));
    const needle = Buffer.from('"name":"damaged"');
    let hits = 0;
    for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1), hits++) buf[at] = 0x01;
    assert.ok(hits > 0, 'the record is stored as JSON text');
    writeFileSync(dataFile(dir), buf);
    assert.equal(checkLmdbFile(dataFile(dir)).ok, true, 'structurally the file is fine');

    const registry = await Registry.open({ dir, logger: memoryLogger() });
    markers.push(registry.marker);
    assert.match(registry.recovery?.reason ?? '', /not valid JSON/);
    await registry.close();
  });

  test('a schema version mismatch is moved aside with a clear warning', async () => {
    const dir = cleanup.dir();
    const db = openLmdb<unknown, string>({ path: dataFile(dir), encoding: 'json', noSync: true });
    db.putSync('meta:version', 999);
    db.putSync('run:from-the-future', { anything: true });
    await db.close();
    const log = memoryLogger();
    const registry = await Registry.open({ dir, logger: log });
    markers.push(registry.marker);
    assert.match(log.entries[0]!.message, /schema version 999, this version of @trellis\/registry reads 1/);
    assert.equal(movedAside(dir).length, 2);
    assert.equal(registry.listRuns().length, 1, 'fresh: only the new run');
    await registry.close();
  });

  test('read-only opening reports a bad file and leaves it where it is', async () => {
    const dir = cleanup.dir();
    writeFileSync(dataFile(dir), garbage(64 * 1024, 99));
    assert.throws(
      () => RegistryStore.open({ dir, logger: memoryLogger(), readOnly: true }),
      (e: unknown) => e instanceof CorruptRegistryError && e.code === 'ERR_REGISTRY_CORRUPT',
    );
    assert.deepEqual(movedAside(dir), []);
    assert.deepEqual(checkLmdbFile(join(dir, 'missing.mdb')), { ok: true, fresh: true });
  });
});

test('no process carrying this file’s markers is left', () => {
  for (const g of cleanup.groups) assert.deepEqual(groupMembers(g), [], `group ${g} is empty`);
  for (const p of cleanup.pids) assert.equal(alive(p), false);
  assertNoneLeft([...markers, ...cleanup.dirs]);
});
