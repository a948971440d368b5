#!/usr/bin/env node
// Generates the Python gRPC stubs of protos/ into packages/python-sdk/trellis_worker/_proto/ with
// `python -m grpc_tools.protoc`, then rewrites protoc's absolute imports between generated modules
// (`from trellis.bridge.v1 import common_pb2`) into package-relative ones (`from . import
// common_pb2`), so the stubs live inside trellis_worker without any sys.path edits.
//
// Usage: node scripts/gen-python-stubs.mjs [--force | --check] [--python /path/to/python]
// The output is committed (the wheel must carry it); `--check`, run by `pnpm lint`, fails when it is stale.
// Skips the work when the stamp in _proto/ matches the current protos and generator; --force
// regenerates anyway. Run by scripts/setup-python.mjs (the root `postinstall`).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const protoRoot = join(root, 'protos');
const pkgDir = join(root, 'packages', 'python-sdk', 'trellis_worker');
const outDir = join(pkgDir, '_proto');
const STAMP = '.stamp';

/** Every .proto file under protos/, as sorted paths relative to protos/ (forward slashes). */
export function listProtos() {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.proto')) out.push(relative(protoRoot, p).split(sep).join('/'));
    }
  };
  walk(protoRoot);
  return out;
}

/** Hash of everything the generated output depends on: the protos and this script. */
export function protoHash() {
  const h = createHash('sha256');
  for (const f of listProtos()) {
    h.update(f);
    h.update(readFileSync(join(protoRoot, f)));
  }
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  return h.digest('hex');
}

// `from a.b.c import m as n`, where a/b/c/m.py is a generated module, becomes a relative import
// seen from the importing file's package. Imports of anything else (google.protobuf, grpc) stay.
function relativizeImports(text, fileDir, generated) {
  const own = fileDir === '' ? [] : fileDir.split('/');
  return text.replace(/^from ([\w.]+) import (\w+)( as \w+)?$/gm, (line, mod, name, alias) => {
    const target = mod.split('.');
    if (!generated.has(`${target.join('/')}/${name}.py`)) return line;
    let common = 0;
    while (common < own.length && common < target.length && own[common] === target[common]) common++;
    const dots = '.'.repeat(1 + own.length - common);
    return `from ${dots}${target.slice(common).join('.')} import ${name}${alias ?? ''}`;
  });
}

function walkFiles(dir, base = dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walkFiles(p, base, out);
    else out.push(relative(base, p).split(sep).join('/'));
  }
  return out;
}

/**
 * Generates the stubs when they are missing or stale. Returns true when it (re)generated them.
 * Throws with the protoc output when generation fails.
 */
export function generateStubs({ python, force = false, out = outDir } = {}) {
  const hash = protoHash();
  const stampPath = join(out, STAMP);
  if (!force && existsSync(stampPath) && readFileSync(stampPath, 'utf8').trim() === hash) return false;

  const protos = listProtos();
  if (protos.length === 0) throw new Error(`no .proto files under ${protoRoot}`);
  // Generate next to the final directory and swap it in at the end, so an interrupted run never
  // leaves a half-written package that imports but lacks a module.
  const tmp = join(dirname(out), `_proto.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const r = spawnSync(
      python,
      [
        '-m',
        'grpc_tools.protoc',
        `--proto_path=${protoRoot}`,
        `--python_out=${tmp}`,
        `--pyi_out=${tmp}`,
        `--grpc_python_out=${tmp}`,
        ...protos,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    if (r.error) throw new Error(`could not run ${python}: ${r.error.message}`);
    if (r.status !== 0)
      throw new Error(`grpc_tools.protoc failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);

    const files = walkFiles(tmp);
    const generated = new Set(files.filter((f) => f.endsWith('.py')));
    const packages = new Set(['']);
    for (const f of files) {
      const dir = dirname(f) === '.' ? '' : dirname(f);
      const full = join(tmp, f);
      writeFileSync(full, relativizeImports(readFileSync(full, 'utf8'), dir, generated));
      const parts = dir === '' ? [] : dir.split('/');
      for (let i = 1; i <= parts.length; i++) packages.add(parts.slice(0, i).join('/'));
    }
    for (const p of packages) {
      const init = join(tmp, p, '__init__.py');
      if (!existsSync(init))
        writeFileSync(init, '# Generated by scripts/gen-python-stubs.mjs. Do not edit.\n');
    }
    writeFileSync(join(tmp, STAMP), `${hash}\n`);
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return true;
}

/**
 * `--check` (run by `pnpm lint`): the committed stubs are exactly what the protos and the pinned
 * generator give now. They are committed (not generated at install) so that the wheel built from a
 * clean checkout carries them; this check keeps them from going stale. Returns the exit code.
 */
export function checkStubs(python) {
  const scratch = mkdtempSync(join(tmpdir(), 'trellis-stubs-check-'));
  try {
    const fresh = join(scratch, '_proto');
    generateStubs({ python, force: true, out: fresh });
    const want = walkFiles(fresh).sort();
    const have = existsSync(outDir)
      ? walkFiles(outDir)
          .filter((f) => !f.includes('__pycache__'))
          .sort()
      : [];
    const stale = [
      ...want.filter(
        (f) => !have.includes(f) || !readFileSync(join(outDir, f)).equals(readFileSync(join(fresh, f))),
      ),
      ...have.filter((f) => !want.includes(f)),
    ];
    if (stale.length === 0) return 0;
    console.error(
      `gen-python-stubs --check: the committed stubs in ${relative(root, outDir)} are stale (${stale.join(', ')}).\nFix: node scripts/gen-python-stubs.mjs --force, then commit ${relative(root, outDir)}`,
    );
    return 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const pyIdx = args.indexOf('--python');
  const python = pyIdx >= 0 ? args[pyIdx + 1] : join(root, '.venv', 'bin', 'python');
  if (args.includes('--check')) process.exit(checkStubs(python));
  try {
    const did = generateStubs({ python, force: args.includes('--force') });
    console.log(did ? `generated Python stubs in ${relative(root, outDir)}` : 'Python stubs up to date');
  } catch (err) {
    console.error(`gen-python-stubs: ${err.message}`);
    console.error('Fix: run `pnpm install` (it creates .venv with grpcio-tools), then retry.');
    process.exit(1);
  }
}
