#!/usr/bin/env node
// `prepack` of every published package (npm pack / pnpm pack / publish run it in the package's
// folder): builds the whole workspace (packages depend on each other's types), and for
// @trellis/grpc-bridge also the trellis_worker wheel into its dist/python/ folder, which the tarball
// ships for pools that provision their own Python env (python-env.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildWheel } from './build-wheel.mjs';

const root = resolve(import.meta.dirname, '..');
const pkgDir = process.cwd();
const { name } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

// The workspace's own build (root package.json "build": tsc -b, the core bundle, the protos copy...),
// run as it is written there so the two never drift apart; incremental, so cheap when nothing changed.
const build = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.build;
const r = spawnSync('sh', ['-c', build], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` },
});
if (r.status !== 0) {
  console.error(`prepack of ${name}: the workspace build (\`${build}\`) failed`);
  process.exit(1);
}
if (name === '@trellis/grpc-bridge') buildWheel({ outDir: join(pkgDir, 'dist', 'python') });
