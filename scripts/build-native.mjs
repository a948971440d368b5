#!/usr/bin/env node
// Part of `pnpm build`: compiles @trellis/grpc-bridge's Node-API addon (packages/grpc-bridge/native/
// trellis_mmap.c, which maps a worker's sealed result memfd; its header says why it exists) into
// packages/grpc-bridge/dist/native/trellis_mmap.node, which the package's tarball ships, so a
// user's app needs no compiler. Node-API is ABI-stable: the one binary serves Node.js 20 and 24.
//
// Why not node-gyp: it downloads Node's headers from nodejs.org at build time; the Node-API headers
// come from the npm package node-api-headers (a pinned devDependency), and one `cc` call is all the
// build there is. Off Linux, or without a C compiler, it prints one line and builds nothing: the
// runtime then reads results instead of mapping them, and logs that once (src/shm/mapped-results.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pkg = join(root, 'packages', 'grpc-bridge');
const src = join(pkg, 'native', 'trellis_mmap.c');
const outDir = join(pkg, 'dist', 'native');
const out = join(outDir, 'trellis_mmap.node');
const cc = process.env.CC || 'cc';

if (process.platform !== 'linux') {
  console.log(`build-native: skipped (mapped results need Linux; this is ${process.platform})`);
  process.exit(0);
}
// Incremental, like tsc -b: nothing to do when the binary is newer than its source.
if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) process.exit(0);

if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.log(
    `build-native: skipped, no C compiler (\`${cc}\`): results will be read, not mapped (scripts/install-system-deps.sh installs gcc)`,
  );
  process.exit(0);
}
const headers = join(
  dirname(createRequire(join(pkg, 'package.json')).resolve('node-api-headers/package.json')),
  'include',
);
mkdirSync(outDir, { recursive: true });
// Built beside, then renamed: a test loading the addon meanwhile never sees half a file.
const tmp = `${out}.tmp-${process.pid}`;
const r = spawnSync(
  cc,
  [
    '-std=c11',
    '-O2',
    '-fPIC',
    '-shared',
    '-Wall',
    '-Wextra',
    '-Werror',
    // Node-API symbols are resolved against the node binary at load time.
    '-Wl,--unresolved-symbols=ignore-all',
    `-I${headers}`,
    '-o',
    tmp,
    src,
    '-lpthread',
  ],
  { stdio: 'inherit' },
);
if (r.status !== 0) {
  rmSync(tmp, { force: true });
  console.error(`build-native: \`${cc}\` failed to compile ${src}`);
  process.exit(1);
}
renameSync(tmp, out);
