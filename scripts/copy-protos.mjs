#!/usr/bin/env node
// Part of `pnpm build`: copies protos/ into packages/grpc-bridge/dist/protos/, where
// @trellis/grpc-bridge loads them from at run time (src/protos.ts) and whence its tarball ships
// them. protos/ stays the one source (the Python stubs are generated from it too).
import { cpSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = resolve(root, 'packages', 'grpc-bridge', 'dist', 'protos');
// Copy next to it, then swap by rename: a test running meanwhile never sees a half-written file.
const tmp = `${out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
cpSync(resolve(root, 'protos'), tmp, { recursive: true, filter: (src) => !src.endsWith('.md') });
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
