/**
 * The disk-full fault's filler outlives a host killed while the fault held the disk full (its
 * clean-up never ran): the driver removes it before the fresh start, and nothing else in the home.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeLeftFillers } from '../src/disk-fill.js';

test("a dead host's disk-full filler is removed before the fresh start; the registry's files stay", () => {
  const home = mkdtempSync(join(tmpdir(), 'chaos-fill-'));
  try {
    writeFileSync(join(home, 'chaos-disk-full-4242'), Buffer.alloc(1024 * 1024, 1));
    writeFileSync(join(home, 'registry.mdb'), 'records');
    writeFileSync(join(home, 'registry.mdb-lock'), '');
    assert.deepEqual(removeLeftFillers(home), ['chaos-disk-full-4242']);
    assert.deepEqual(readdirSync(home).sort(), ['registry.mdb', 'registry.mdb-lock']);
    assert.deepEqual(removeLeftFillers(home), [], 'nothing left to remove');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  assert.equal(existsSync(home), false);
});
