#!/usr/bin/env node
// Part of `pnpm build`: compiles the project's Node-API addons into each package's dist/native/,
// which that package's tarball ships, so a user's app needs no compiler:
//  - @trellis/grpc-bridge: native/trellis_mmap.c (maps a worker's sealed result memfd; its header
//    says why it exists) -> dist/native/trellis_mmap.node;
//  - @trellis/home: native/trellis_cloexec.c (marks the LMDB data file's descriptor close-on-exec,
//    so spawned processes do not inherit it; its header says why) -> dist/native/trellis_cloexec.node.
// Node-API is ABI-stable: one binary serves Node.js 20 and 24.
//
// Why not node-gyp: it downloads Node's headers from nodejs.org at build time; the Node-API headers
// come from the npm package node-api-headers (a pinned devDependency), and one `cc` call per addon is
// all the build there is. Off Linux, or without a C compiler, it prints one line and builds nothing:
// the runtime then reads results instead of mapping them (grpc-bridge src/shm/mapped-results.ts),
// and leaves the LMDB descriptors inheritable, the Python workers closing them at start (home
// src/close-on-exec.ts); each logs that once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cc = process.env.CC || 'cc';
const ADDONS = [
  { pkg: 'grpc-bridge', name: 'trellis_mmap', libs: ['-lpthread'] },
  { pkg: 'home', name: 'trellis_cloexec', libs: [] },
];

if (process.platform !== 'linux') {
  console.log(`build-native: skipped (the addons need Linux; this is ${process.platform})`);
  process.exit(0);
}
// Incremental, like tsc -b: nothing to do for an addon whose binary is newer than its source.
const todo = ADDONS.map((a) => {
  const pkgDir = join(root, 'packages', a.pkg);
  const outDir = join(pkgDir, 'dist', 'native');
  return {
    ...a,
    pkgDir,
    src: join(pkgDir, 'native', `${a.name}.c`),
    outDir,
    out: join(outDir, `${a.name}.node`),
  };
}).filter((a) => !(existsSync(a.out) && statSync(a.out).mtimeMs >= statSync(a.src).mtimeMs));
if (todo.length === 0) process.exit(0);

if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.log(
    `build-native: skipped, no C compiler (\`${cc}\`): results will be read, not mapped, and LMDB descriptors stay inheritable (scripts/install-system-deps.sh installs gcc)`,
  );
  process.exit(0);
}
for (const a of todo) {
  const headers = join(
    dirname(createRequire(join(a.pkgDir, 'package.json')).resolve('node-api-headers/package.json')),
    'include',
  );
  mkdirSync(a.outDir, { recursive: true });
  // Built beside, then renamed: a test loading the addon meanwhile never sees half a file.
  const tmp = `${a.out}.tmp-${process.pid}`;
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
      a.src,
      ...a.libs,
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    console.error(`build-native: \`${cc}\` failed to compile ${a.src}`);
    process.exit(1);
  }
  renameSync(tmp, a.out);
}
