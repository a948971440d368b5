/**
 * Announce files in this user's runtime directory: private to the user, and never in a directory
 * another user prepared (someone creating /tmp/trellis-<uid> first, or making it writable to all).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { announcedReadToken, userAnnounceDir, writeAnnounce } from '../src/announce.js';
import { tempDir } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the runtime directory is made private, and the announce file with its read token is 0600', () => {
  const runtime = tempDir('runtime-ok');
  dirs.push(runtime);
  const dir = userAnnounceDir({ XDG_RUNTIME_DIR: runtime });
  assert.equal(dir, join(runtime, 'trellis', 'observers'));
  assert.equal(statSync(join(runtime, 'trellis')).mode & 0o777, 0o700);
  const info = { url: 'http://127.0.0.1:1/', pid: process.pid, root: null, startedAt: Date.now() };
  const file = writeAnnounce(dir!, info, 1, 'read-token-123');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(announcedReadToken(dir!, info.url), 'read-token-123');
});

test('a runtime directory others can write to is not used', () => {
  const runtime = tempDir('runtime-open');
  dirs.push(runtime);
  mkdirSync(join(runtime, 'trellis'));
  chmodSync(join(runtime, 'trellis'), 0o777);
  assert.equal(userAnnounceDir({ XDG_RUNTIME_DIR: runtime }), undefined);
});
