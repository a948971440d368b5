#!/usr/bin/env node
// Generates the TypeScript types of the trellis.bridge.v1 protos into src/generated/ (committed).
//   pnpm --filter @trellis/grpc-bridge gen           regenerate src/generated
//   node scripts/gen-types.mjs --out DIR             generate into DIR (the up-to-date test uses this)
// The options match how src/protos.ts loads the protos at run time (camelCase fields, 64-bit
// integers as numbers, enums as strings, defaults filled in), so the types describe exactly the
// objects the runtime hands out.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const pkg = resolve(import.meta.dirname, '..');
const protoRoot = resolve(pkg, '..', '..', 'protos');
const protoDir = join(protoRoot, 'trellis', 'bridge', 'v1');
const i = process.argv.indexOf('--out');
const out = i > 0 ? resolve(process.argv[i + 1]) : join(pkg, 'src', 'generated');

const require = createRequire(import.meta.url);
const bin = join(
  dirname(require.resolve('@grpc/proto-loader/package.json')),
  'build',
  'bin',
  'proto-loader-gen-types.js',
);
// Every .proto that defines a service: the messages they import (common.proto) are generated with
// them, and a file without a service would only produce an aggregate type with unused imports.
const files = readdirSync(protoDir)
  .filter((f) => f.endsWith('.proto') && /^service /m.test(readFileSync(join(protoDir, f), 'utf8')))
  .sort()
  .map((f) => `trellis/bridge/v1/${f}`);

rmSync(out, { recursive: true, force: true });
const r = spawnSync(
  process.execPath,
  [
    bin,
    '--longs=Number',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--includeComments',
    '--grpcLib=@grpc/grpc-js',
    '--importFileExtension=.js',
    '-I',
    protoRoot,
    '-O',
    out,
    ...files,
  ],
  { stdio: 'inherit' },
);
if (r.status !== 0) process.exit(r.status ?? 1);

// The generator writes the absolute path of each .proto into a comment; make it relative to the
// repository so the output is the same on every machine (the up-to-date test compares it).
function relativize(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) relativize(p);
    else
      writeFileSync(
        p,
        readFileSync(p, 'utf8').replaceAll(`Original file: ${protoRoot}/`, 'Original file: protos/'),
      );
  }
}
relativize(out);
