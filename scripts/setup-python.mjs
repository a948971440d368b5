#!/usr/bin/env node
// Sets up the Python side of the gRPC bridge; run by the root `postinstall` (so `pnpm install` on a
// clean clone is enough) and safe to run by hand at any time:
//   1. creates the project virtualenv <repo>/.venv with `python3 -m venv` when it is missing or
//      broken;
//   2. installs packages/python-sdk into it (editable, with the `dev` extra) unless the stamp
//      .venv/.trellis-sdk-stamp matches a hash of pyproject.toml and protos/ (so a second run
//      costs no pip call);
//   3. regenerates the gRPC stubs when protos/ changed (scripts/gen-python-stubs.mjs).
// TRELLIS_SKIP_PYTHON_SETUP=1 skips everything (for machines that never run Python workers).
// At run time the TypeScript bridge uses $TRELLIS_PYTHON, or this .venv's python by default.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateStubs, protoHash } from './gen-python-stubs.mjs';

const root = resolve(import.meta.dirname, '..');
const sdkDir = join(root, 'packages', 'python-sdk');
const venvDir = join(root, '.venv');
const venvPython = join(venvDir, 'bin', 'python');
const stampPath = join(venvDir, '.trellis-sdk-stamp');
const MIN_PYTHON = [3, 10];

function fail(message, fix) {
  console.error(`setup-python: ${message}`);
  if (fix) console.error(`Fix: ${fix}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...opts });
}

/** The python's [major, minor], or null when it cannot be run. */
function pythonVersion(python) {
  const r = run(python, ['-c', 'import sys; print(sys.version_info[0], sys.version_info[1])']);
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim().split(' ').map(Number);
}

function atLeast([major, minor], [wantMajor, wantMinor]) {
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

if (process.env.TRELLIS_SKIP_PYTHON_SETUP === '1') {
  console.log('setup-python: skipped (TRELLIS_SKIP_PYTHON_SETUP=1)');
  process.exit(0);
}
if (!existsSync(join(sdkDir, 'pyproject.toml'))) {
  console.log('setup-python: no packages/python-sdk, nothing to do');
  process.exit(0);
}

// 1. virtualenv ------------------------------------------------------------------------------------
const want = MIN_PYTHON.join('.');
if (!existsSync(venvPython) || pythonVersion(venvPython) === null) {
  const version = pythonVersion('python3');
  if (version === null) {
    fail(
      `python3 (>= ${want}) was not found on PATH; Trellis's Python workers need it.`,
      'sudo apt-get install -y python3 python3-venv   (macOS: brew install python3), then `pnpm install` again',
    );
  }
  if (!atLeast(version, MIN_PYTHON)) {
    fail(
      `python3 is ${version.join('.')}, Trellis needs >= ${want}.`,
      `install Python >= ${want} as python3`,
    );
  }
  rmSync(venvDir, { recursive: true, force: true });
  console.log(`setup-python: creating ${venvDir} with python3 ${version.join('.')}`);
  const r = run('python3', ['-m', 'venv', venvDir], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 || !existsSync(venvPython)) {
    rmSync(venvDir, { recursive: true, force: true });
    fail(
      'python3 -m venv failed (on Debian/Ubuntu the venv module is packaged separately).',
      `sudo apt-get install -y python3-venv   (or python${version.join('.')}-venv), then \`pnpm install\` again`,
    );
  }
}

// 2. SDK install ---------------------------------------------------------------------------------
const installHash = createHash('sha256')
  .update(readFileSync(join(sdkDir, 'pyproject.toml')))
  .update(protoHash())
  .digest('hex');
const installed = existsSync(stampPath) && readFileSync(stampPath, 'utf8').trim() === installHash;
if (!installed) {
  console.log('setup-python: installing packages/python-sdk[dev] into .venv');
  const r = run(
    venvPython,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--editable', `${sdkDir}[dev]`],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PIP_NO_INPUT: '1' } },
  );
  if (r.status !== 0) {
    fail(
      `pip install of packages/python-sdk failed (exit ${r.status}).`,
      'check that PyPI is reachable (pip reads PIP_INDEX_URL / pip.conf), then `pnpm install` again',
    );
  }
  writeFileSync(stampPath, `${installHash}\n`);
}

// 3. stubs -----------------------------------------------------------------------------------------
try {
  const generated = generateStubs({ python: venvPython });
  console.log(
    generated ? 'setup-python: generated gRPC stubs' : 'setup-python: .venv and gRPC stubs are up to date',
  );
} catch (err) {
  fail(err.message, 'delete .venv and run `pnpm install` again');
}

// 4. byte-compile the SDK -----------------------------------------------------------------------
// Every Python worker imports the SDK at start-up. Compiling it once here keeps that cost out of
// each start, also where PYTHONDONTWRITEBYTECODE stops Python from writing .pyc files itself.
// Cheap when nothing changed (compileall skips up-to-date files).
{
  const r = spawnSync(venvPython, ['-m', 'compileall', '-q', join(sdkDir, 'trellis_worker')], {
    stdio: 'inherit',
  });
  if (r.status !== 0)
    console.warn('setup-python: byte-compiling the SDK failed; workers will start a little slower');
}
