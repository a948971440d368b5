/**
 * The pre-open check of an LMDB file (@trellis/home's checkLmdbFile, run by every Registry.open and
 * health store open) on a file another process commits to meanwhile: a second instance on the same
 * registry, a lease keeper, the CLI beside a running app. A read torn by a commit (the size read
 * before the file grew and a meta page written after; tree pages newer than the meta pages read)
 * used to be judged a bad file, about once in 100 checks, and a bad registry or health file is
 * moved aside: under the writer that was still using it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { checkLmdbFile } from '../src/index.js';
import { Cleanup } from './helpers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const WRITER = new URL('./fixtures/lmdb-writer.js', import.meta.url).pathname;

test('a file another process is committing to is never judged bad while it is checked', async () => {
  const path = join(cleanup.dir(), 'live.mdb');
  const writer = spawn(process.execPath, [WRITER, path, '1500'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => writer.once('exit', (code) => r(code)));
  const lines = createInterface({ input: writer.stdout! })[Symbol.asyncIterator]();
  try {
    assert.equal((await lines.next()).value, 'ready');
    // A bounded loop of checks while the writer commits (it stops by itself after 1.5 s).
    const until = Date.now() + 1200;
    let checks = 0;
    const bad: string[] = [];
    while (Date.now() < until) {
      const r = checkLmdbFile(path);
      checks++;
      if (!r.ok) bad.push(r.reason);
    }
    assert.match((await lines.next()).value as string, /^done \d+$/);
    assert.equal(await exited, 0);
    assert.ok(checks > 50, `only ${checks} checks ran`);
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${checks} checks judged the live file bad`);
  } finally {
    writer.kill('SIGKILL');
    await exited;
  }
});
