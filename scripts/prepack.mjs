#!/usr/bin/env node
// `prepack` of every published package (npm pack / pnpm pack / publish run it in the package's
// folder): builds the whole workspace (packages depend on each other's types), and for
// @trellis/grpc-bridge also the trellis_worker wheel into its dist/python/ folder, which the tarball
// ships for pools that provision their own Python env (python-env.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildWheel } from './build-wheel.mjs';

const root = resolve(import.meta.dirname, '..');
const pkgDir = process.cwd();
const { name } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

const tsc = join(root, 'node_modules', '.bin', 'tsc');
const packages = readdirSync(join(root, 'packages')).filter((p) =>
  existsSync(join(root, 'packages', p, 'tsconfig.json')),
);
const steps = [
  [tsc, ['-b', ...packages.map((p) => `packages/${p}/tsconfig.json`)]],
  [process.execPath, ['scripts/bundle-core.mjs']],
  [process.execPath, ['scripts/copy-protos.mjs']],
];
for (const [cmd, args] of steps) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`prepack of ${name}: \`${cmd} ${args.join(' ')}\` failed`);
    process.exit(1);
  }
}
if (name === '@trellis/grpc-bridge') buildWheel({ outDir: join(pkgDir, 'dist', 'python') });
