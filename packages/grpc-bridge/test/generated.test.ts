/**
 * The committed TypeScript types in src/generated are what proto-loader-gen-types makes from
 * protos/ today: regenerate into a temp dir and compare file by file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string, root = dir, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, root, out);
    else out.push(relative(root, p));
  }
  return out.sort();
}

test('src/generated is up to date with protos/ (run `pnpm --filter @trellis/grpc-bridge gen` if not)', () => {
  const out = mkdtempSync(join(tmpdir(), 'trellis-gen-'));
  try {
    const r = spawnSync(process.execPath, [join(pkg, 'scripts', 'gen-types.mjs'), '--out', out], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const committed = join(pkg, 'src', 'generated');
    assert.deepEqual(files(out), files(committed));
    for (const f of files(out)) {
      assert.equal(
        readFileSync(join(committed, f), 'utf8'),
        readFileSync(join(out, f), 'utf8'),
        `${f} differs: regenerate the types`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
