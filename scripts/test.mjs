#!/usr/bin/env node
// The one test command (README and .ci/run both call `pnpm test`).
//
// 1. builds every package with `tsc -b` (tests and worker-thread entry files run from dist/, so the
//    code under test is exactly what users get);
// 2. runs the Python SDK's pytest suite with the project virtualenv, when the SDK is present;
// 3. runs every node:test file under packages/*/dist/test;
// 4. runs the consumer test (scripts/test-consumer.mjs: the packages packed and installed into an
//    app outside the repository);
// 5. checks that nothing was left behind: no process whose command line carries a Trellis run marker
//    and no descendant of this runner still alive;
// 6. prints one closing line `tests: N passed, N failed` and exits non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
// Every process this run starts inherits this id (unless a test replaces the whole environment), so
// the leftover check below can tell this run's processes from those of another run on the same
// machine (another checkout's `pnpm test`, a chaos run). A marked process that carries another
// runner's id is not ours; one that carries none is counted, so a test that drops the environment
// cannot hide a leftover.
const runnerId = randomUUID();
process.env.TRELLIS_TEST_RUNNER = runnerId;
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  return r.status ?? 1;
}

// System packages some tests need (Chromium for the observer's browser test, etcd, iproute2 and
// nftables for the cluster's): the script installs only what is missing (root only) and costs a few
// `command -v` checks otherwise, so a fresh machine needs nothing but the README's two commands.
if (only.length === 0) run('bash', ['scripts/install-system-deps.sh']);

if (run('pnpm', ['-s', 'build']) !== 0) {
  console.error('build failed');
  process.exit(1);
}

// A runtime folder of this run's own: a started observer announces itself in
// $XDG_RUNTIME_DIR/trellis/observers (else /tmp/trellis-<uid>, which would outlive the run).
// Removed at the end; a file still in it is an observer a test did not stop.
const runtimeDir = mkdtempSync(join(tmpdir(), 'trellis-test-runtime-'));
process.env.XDG_RUNTIME_DIR = runtimeDir;
let passed = 0;
let failed = 0;

// --- Python SDK (pytest) -------------------------------------------------------------------------
const py = join(root, '.venv', 'bin', 'python');
const pySdkTests = join(root, 'packages', 'python-sdk', 'tests');
if (only.length === 0 && existsSync(pySdkTests)) {
  if (!existsSync(py)) {
    console.error(
      `missing ${py}: run \`pnpm install\` (it creates the virtualenv via scripts/setup-python.mjs)`,
    );
    rmSync(runtimeDir, { recursive: true, force: true });
    process.exit(1);
  }
  // pytest keeps its tmp_path folders (the last three runs) in /tmp/pytest-of-<user>: a folder of
  // this run's own instead, removed when pytest is done, so the tests leave no temp dir behind. Short,
  // like pytest's own, for the Unix sockets some tests create in it.
  const pyTemp = mkdtempSync(join(tmpdir(), 'trl-py-'));
  const r = spawnSync(
    py,
    ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--basetemp=${pyTemp}`, pySdkTests],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  rmSync(pyTemp, { recursive: true, force: true });
  process.stdout.write(r.stdout);
  const m = /(\d+) passed/.exec(r.stdout);
  const f = /(\d+) failed/.exec(r.stdout);
  const e = /(\d+) error/.exec(r.stdout);
  passed += m ? Number(m[1]) : 0;
  failed += (f ? Number(f[1]) : 0) + (e ? Number(e[1]) : 0);
  if (r.status !== 0 && !f && !e) failed += 1;
}

// --- node:test -----------------------------------------------------------------------------------
function findTests(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures') findTests(p, out);
    } else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = [];
for (const pkg of readdirSync(join(root, 'packages')))
  findTests(join(root, 'packages', pkg, 'dist', 'test'), files);
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
files.sort();
const consumerNamed = only.length === 0 || only.some((o) => 'consumer'.includes(o));
// A filter that matches no test file must not reach `node --test` with no files: node then
// searches the folder itself and runs every *.test.js and fixture it finds (the fixtures wait for
// a parent that never speaks, up to the 120 s timeout each).
if (only.length > 0 && files.length === 0 && !consumerNamed) {
  console.error(
    `no test file matches ${only.map((o) => `"${o}"`).join(', ')}: name part of a path under packages/<pkg>/test/ (e.g. \`pnpm test grpc-bridge\`, \`pnpm test lane.test\`)`,
  );
  rmSync(runtimeDir, { recursive: true, force: true });
  process.exit(2);
}

const nodeStatus =
  files.length === 0
    ? 0
    : await new Promise((res) => {
        const child = spawn(
          process.execPath,
          ['--test', '--test-concurrency=1', '--test-timeout=120000', '--test-reporter=spec', ...files],
          { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TRELLIS_TEST: '1' } },
        );
        let buf = '';
        child.stdout.on('data', (d) => {
          process.stdout.write(d);
          buf += d.toString();
        });
        child.on('exit', (code) => {
          const p = /ℹ pass (\d+)/.exec(buf);
          const f = /ℹ fail (\d+)/.exec(buf);
          passed += p ? Number(p[1]) : 0;
          failed += f ? Number(f[1]) : 0;
          if (code !== 0 && !(f && Number(f[1]) > 0)) failed += 1;
          res(code);
        });
      });

// --- consumer test: Trellis installed into an app outside this repo (scripts/test-consumer.mjs) ---
// Full runs only, or when a filter names it (`pnpm test consumer`). Its closing line
// `consumer: N passed, N failed` is added to the totals.
if (consumerNamed) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'test-consumer.mjs')], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60 * 1000,
  });
  process.stdout.write(r.stdout ?? '');
  const m = /consumer: (\d+) passed, (\d+) failed/.exec(r.stdout ?? '');
  passed += m ? Number(m[1]) : 0;
  failed += m ? Number(m[2]) : 1;
  if (m && r.status !== 0 && Number(m[2]) === 0) failed += 1;
}

// --- leftovers -----------------------------------------------------------------------------------
function leftovers() {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let cmd;
    let stat;
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    if (state === 'Z') continue;
    if (!(cmd.includes('--trellis-run-id=') || cmd.includes('trellis-test-marker'))) continue;
    if (otherRunner(d)) continue;
    out.push(`${d} ${cmd.slice(0, 200)}`);
  }
  return out;
}
/** True when the process carries another test runner's id in its environment. */
function otherRunner(pid) {
  let env;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return false;
  }
  const hit = env.split('\0').find((kv) => kv.startsWith('TRELLIS_TEST_RUNNER='));
  return hit !== undefined && hit !== `TRELLIS_TEST_RUNNER=${runnerId}`;
}
// Reaping is asynchronous in the kernel: give stragglers a bounded moment to disappear.
let left = leftovers();
for (let i = 0; i < 20 && left.length > 0; i++) {
  await new Promise((r) => setTimeout(r, 100));
  left = leftovers();
}
if (left.length > 0) {
  console.error(`processes left behind by the tests:\n${left.join('\n')}`);
  failed += 1;
}
const announced = join(runtimeDir, 'trellis', 'observers');
const stale = existsSync(announced) ? readdirSync(announced) : [];
if (stale.length > 0) {
  console.error(
    `observer announcements left behind by the tests (an observer not stopped): ${stale.join(', ')}`,
  );
  failed += 1;
}
rmSync(runtimeDir, { recursive: true, force: true });
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || nodeStatus !== 0 ? 1 : 0);
