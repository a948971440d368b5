#!/usr/bin/env node
// Builds the trellis_worker wheel (packages/python-sdk) with uv, else pip, into a folder.
//
// Usage: node scripts/build-wheel.mjs [--sdk DIR] [--out DIR]   (defaults: packages/python-sdk, dist/wheel)
// Used by scripts/prepack.mjs (the wheel ships inside @trellis/grpc-bridge, in python/, for pools
// that provision their own env) and by scripts/test-consumer.mjs (built from a clean copy there).
// The build runs in an isolated environment (setuptools from the package index), as any user's
// `pip wheel` / `uv build` would.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(import.meta.dirname, '..');

/** Builds the wheel of `sdkDir` into `outDir` (emptied first); returns the wheel's path. */
export function buildWheel({ sdkDir = join(root, 'packages', 'python-sdk'), outDir, python } = {}) {
  const py = python ?? join(root, '.venv', 'bin', 'python');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const uv = join(root, '.venv', 'bin', 'uv');
  // The build's own temp folder, removed after: uv leaves a `uv-setuptools-<hash>.lock` in TMPDIR for
  // every source tree it builds, one more file in /tmp per test run otherwise.
  const tmp = mkdtempSync(join(tmpdir(), 'trellis-wheel-build-'));
  const env = { ...process.env, TMPDIR: tmp };
  let r;
  try {
    r = existsSync(uv)
      ? spawnSync(uv, ['build', '--wheel', '--quiet', '--out-dir', outDir, sdkDir], { encoding: 'utf8', env })
      : spawnSync(py, ['-m', 'pip', 'wheel', '--quiet', '--no-deps', '--wheel-dir', outDir, sdkDir], {
          encoding: 'utf8',
          env,
        });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (r.status !== 0) throw new Error(`building the trellis_worker wheel failed:\n${r.stderr}${r.stdout}`);
  const whl = readdirSync(outDir).find((f) => f.endsWith('.whl'));
  if (!whl) throw new Error(`no wheel in ${outDir}`);
  // uv marks its output folder with a `.gitignore` of `*`, which npm and pnpm pack would obey.
  rmSync(join(outDir, '.gitignore'), { force: true });
  // A tree built in place leaves build/ and *.egg-info next to the sources: not ours to keep.
  rmSync(join(sdkDir, 'build'), { recursive: true, force: true });
  return join(outDir, whl);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => (args.includes(name) ? resolve(args[args.indexOf(name) + 1]) : dflt);
  console.log(
    buildWheel({ sdkDir: opt('--sdk', undefined), outDir: opt('--out', join(root, 'dist', 'wheel')) }),
  );
}
