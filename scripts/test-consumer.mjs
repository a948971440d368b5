#!/usr/bin/env node
// The consumer test (run by `pnpm test`; alone: `node scripts/test-consumer.mjs`): Trellis installed
// into an app OUTSIDE this repository, the way a user gets it.
//
//   1. packs every published package with `pnpm pack` (their prepack builds), and builds the
//      trellis_worker wheel from a clean copy of the repository (tracked and new files only, none
//      of the git-ignored ones a developer's checkout has: no generated leftovers help it);
//   2. creates apps in a temporary directory with no path back into this repository;
//   3. installs the tarballs with pnpm into one app and with npm into the other, and the wheel plus
//      rapidfuzz (a third-party PyPI package) into each app's .venv, with uv in one and pip in the
//      other; a third run lets the pool provision its own env (`python: { requirements }`) from the
//      wheel shipped inside @trellis/grpc-bridge;
//   4. runs `trellis doctor` and a tree with a ToolPool whose tool uses rapidfuzz, calls it, and
//      takes a 4 MiB result that (on linux-x64) must arrive mapped through the addon prebuilt into
//      the tarball (dist/native/trellis_mmap.node: the app has no compiler step); with a registry
//      open, a child the app spawns holds no registry.mdb (@trellis/home's prebuilt
//      dist/native/trellis_cloexec.node),
//   5. kill -9s the app and counts the processes it left: 0, and no temp directory either.
//
// Prints one line per check and closes with `consumer: N passed, N failed` (scripts/test.mjs adds
// them to its totals). Exit code 1 on any failure. Everything lives under one temp dir, removed at
// the end; every process it starts is killed by PID.
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildWheel } from './build-wheel.mjs';

const root = resolve(import.meta.dirname, '..');
const PACKAGES = readdirSync(join(root, 'packages')).filter((p) => {
  const f = join(root, 'packages', p, 'package.json');
  return existsSync(f) && JSON.parse(readFileSync(f, 'utf8')).private !== true;
});
const uv = join(root, '.venv', 'bin', 'uv');
const log = (s) => process.stdout.write(`${s}\n`);
let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  log(`${ok ? 'ok  ' : 'FAIL'} consumer: ${name}${detail ? `: ${detail}` : ''}`);
  return ok;
}
function sh(cmd, args, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000, ...opts });
  const ms = Math.round(performance.now() - t0);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(
      `\`${cmd} ${args.join(' ')}\` (in ${opts.cwd ?? process.cwd()}) exited ${r.status ?? r.signal} after ${ms} ms:\n${out}`,
    );
  }
  return r;
}
/** An environment without this repository in it: no TRELLIS_* settings, no NODE_OPTIONS/NODE_PATH. */
function appEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TRELLIS_') && k !== 'TRELLIS_TEST_RUNNER') continue;
    if (['NODE_OPTIONS', 'NODE_PATH', 'INIT_CWD', 'VIRTUAL_ENV', 'PYTHONPATH'].includes(k)) continue;
    if (k.startsWith('npm_') || k.startsWith('PNPM_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const TOOLS_PY = `"""A user's tool server: fuzzy matching with rapidfuzz, a third-party PyPI package."""
import os

from rapidfuzz import fuzz, process
from trellis_worker import ToolContext, tool


@tool(idempotent=True)
def best_match(query: str, choices: list[str]) -> dict:
    """The choice closest to the query."""
    match, score, _ = process.extractOne(query, choices, scorer=fuzz.WRatio)
    return {"match": match, "score": round(score, 1), "pid": os.getpid()}


@tool
def big(ctx: ToolContext, n: int) -> memoryview:
    """n bytes of 5, built in shared memory (a large result)."""
    buf = ctx.shared_buffer(n)
    buf[:] = bytes([5]) * n
    return buf
`;

const MAIN_JS = `// A user's app: a tree with a ToolPool; prints one JSON line when the call is answered, then waits.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { start } from '@trellis/core';
import { ToolPool } from '@trellis/grpc-bridge';
import { Registry } from '@trellis/registry';

// The registry's LMDB file must not reach a child (the tarball's prebuilt close-on-exec addon):
// \`ls -l /proc/self/fd\` lists the descriptors the child got.
await Registry.open({ dir: new URL('./.trellis', import.meta.url).pathname });
const registryInChild = execFileSync('ls', ['-l', '/proc/self/fd'], { encoding: 'utf8' }).includes('registry.mdb');

const provision = process.env.APP_PROVISION === '1';
const pool = new ToolPool({
  name: 'fuzzy',
  tools: new URL('./tools.py', import.meta.url).pathname,
  size: 2,
  ...(provision ? { python: { requirements: ['rapidfuzz>=3'] } } : {}),
});
await start({ flags: { strategy: 'one_for_one' }, children: [pool.childSpec()] });
const r = await pool.call('best_match', { query: 'appel pie', choices: ['banana bread', 'apple pie', 'cherry tart'] });
const big = await pool.call('big', { n: 4 << 20 });
// A mapped result shows in this process's own mappings as the worker's memfd.
const mapped = readFileSync('/proc/self/maps', 'utf8').includes('/memfd:trellis-result');
const bigOk = big.length === 4 << 20 && big[0] === 5 && big[big.length - 1] === 5;
const workers = pool.stats().workers.map((w) => w.pid);
console.log(JSON.stringify({ result: r, workers, python: pool.stats().python ?? null, mapped, bigOk, registryInChild }));
setInterval(() => {}, 1 << 30); // an app that runs until it is killed
`;

/** Starts the app, waits for its JSON line, kill -9s it, and checks what it left behind. */
async function runApp(label, appDir, env) {
  const appTmp = join(appDir, 'tmp');
  rmSync(appTmp, { recursive: true, force: true });
  mkdirSync(appTmp, { recursive: true });
  const child = spawn(process.execPath, ['main.mjs'], {
    cwd: appDir,
    env: appEnv({ ...env, TMPDIR: appTmp }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const line = await new Promise((res) => {
    const timer = setTimeout(() => res(undefined), 180_000);
    child.stdout.on('data', (d) => {
      out += d;
      const l = out.split('\n').find((x) => x.startsWith('{'));
      if (l) {
        clearTimeout(timer);
        res(l);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      res(undefined);
    });
  });
  let parsed;
  try {
    parsed = line && JSON.parse(line);
  } catch {}
  check(
    `${label}: the tool (rapidfuzz) answers`,
    parsed?.result?.match === 'apple pie',
    parsed ? JSON.stringify(parsed.result) : `no answer; stderr:\n${err.split('\n').slice(-30).join('\n')}`,
  );
  check(`${label}: a 4 MiB result arrives whole`, parsed?.bigOk === true, JSON.stringify(parsed ?? null));
  // The addon is prebuilt for linux-x64 into the tarball; elsewhere results are read (and logged).
  if (process.platform === 'linux' && process.arch === 'x64')
    check(
      `${label}: the large result is mapped (the tarball's prebuilt addon, no compiler in the app)`,
      parsed?.mapped === true,
      err
        .split('\n')
        .filter((l) => l.includes('not mapped'))
        .join('\n'),
    );
  if (process.platform === 'linux' && process.arch === 'x64')
    check(
      `${label}: a child of the app does not hold the registry file (the tarball's prebuilt addon)`,
      parsed?.registryInChild === false,
      JSON.stringify(parsed?.registryInChild ?? null),
    );
  const workers = parsed?.workers ?? [];
  if (child.exitCode === null) child.kill('SIGKILL');
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r() : child.on('exit', r),
  );
  // The workers notice their host is gone (stdin EOF, parent-death signal): give them a bounded time.
  const alive = () => workers.filter((p) => existsSync(`/proc/${p}`) && !isZombie(p)).concat(strays(appDir));
  for (let i = 0; i < 100 && alive().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  const left = [...new Set(alive())];
  check(
    `${label}: kill -9 of the app leaves 0 orphans`,
    workers.length > 0 && left.length === 0,
    left.length ? `alive: ${left.join(', ')}` : `${workers.length} workers gone`,
  );
  for (const p of left) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  const temps = readdirSync(appTmp);
  check(`${label}: kill -9 leaves no temp directory`, temps.length === 0, temps.join(', '));
}
function isZombie(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
/** Processes whose command line names the app's folder (its Python workers). */
function strays(appDir) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(appDir) && !isZombie(Number(d)))
        out.push(Number(d));
    } catch {}
  }
  return out;
}

function writeApp(dir, tarballs, pm) {
  mkdirSync(dir, { recursive: true });
  const deps = Object.fromEntries(tarballs.map((t) => [t.name, `file:../tarballs/${t.file}`]));
  const pkg = { name: `consumer-${pm}`, private: true, type: 'module', dependencies: deps };
  // pnpm 10 runs no dependency's install script unless allowed; these have native parts.
  if (pm === 'pnpm') pkg.pnpm = { onlyBuiltDependencies: ['lmdb', 'msgpackr-extract', 'protobufjs'] };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(join(dir, 'tools.py'), TOOLS_PY);
  writeFileSync(join(dir, 'main.mjs'), MAIN_JS);
}

/** True when nothing under node_modules/@trellis resolves back into this repository. */
function noPathBack(appDir) {
  const bad = [];
  const scope = join(appDir, 'node_modules', '@trellis');
  for (const n of existsSync(scope) ? readdirSync(scope) : []) {
    const real = realpathSync(join(scope, n));
    if (real.startsWith(`${root}/`)) bad.push(`${n} -> ${real}`);
  }
  return bad;
}

const work = mkdtempSync(join(tmpdir(), 'trellis-consumer-'));
const t0 = performance.now();
try {
  // 1. tarballs and wheel ---------------------------------------------------------------------------
  const tarDir = join(work, 'tarballs');
  mkdirSync(tarDir);
  const tarballs = [];
  for (const p of PACKAGES) {
    const dir = join(root, 'packages', p);
    const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    sh('pnpm', ['pack', '--pack-destination', tarDir], { cwd: dir });
    const file = `${name.replace('@', '').replace('/', '-')}-${version}.tgz`;
    tarballs.push({ name, file });
    const listing = sh('tar', ['tzf', join(tarDir, file)]).stdout.split('\n');
    const extra = listing.filter(
      (f) => /\/(test|bench|fixtures)\/|\.test\.|(^|\/)src\/.*\.ts$/.test(f) && !f.endsWith('.d.ts'),
    );
    check(
      `${name}: tarball holds no tests, benchmarks or sources`,
      extra.length === 0,
      extra.slice(0, 5).join(', '),
    );
  }
  const bridgeList = sh('tar', ['tzf', join(tarDir, 'trellis-grpc-bridge-0.1.0.tgz')]).stdout;
  check(
    '@trellis/grpc-bridge: tarball ships the protos and the SDK wheel',
    bridgeList.includes('dist/protos/trellis/bridge/v1/tool_service.proto') &&
      /dist\/python\/trellis_worker-.*\.whl/.test(bridgeList),
  );
  if (process.platform === 'linux' && process.arch === 'x64')
    check(
      '@trellis/grpc-bridge: tarball ships the prebuilt mapping addon',
      bridgeList.includes('dist/native/trellis_mmap.node'),
    );
  if (process.platform === 'linux' && process.arch === 'x64')
    check(
      '@trellis/home: tarball ships the prebuilt close-on-exec addon',
      sh('tar', ['tzf', join(tarDir, 'trellis-home-0.1.0.tgz')]).stdout.includes(
        'dist/native/trellis_cloexec.node',
      ),
    );

  const clean = join(work, 'clean');
  const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root })
    .stdout.split('\0')
    .filter(Boolean);
  for (const f of files)
    if (existsSync(join(root, f))) cpSync(join(root, f), join(clean, f), { recursive: true });
  const wheel = buildWheel({ sdkDir: join(clean, 'packages', 'python-sdk'), outDir: join(work, 'wheel') });
  const whlList = sh('python3', ['-m', 'zipfile', '-l', wheel]).stdout;
  check(
    'wheel from a clean copy carries the gRPC stubs',
    whlList.includes('trellis_worker/_proto/trellis/bridge/v1/tool_service_pb2.py'),
  );
  const meta = sh('python3', [
    '-c',
    `import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(next(z.read(n).decode() for n in z.namelist() if n.endswith('METADATA')))`,
    wheel,
  ]).stdout;
  const pins = meta.split('\n').filter((l) => l.startsWith('Requires-Dist:') && !l.includes('extra =='));
  check(
    'wheel pins its runtime dependencies by lower bound only',
    pins.length > 0 && pins.every((l) => !l.includes('==')),
    pins.join('; '),
  );

  // 2-5. one app per package manager ----------------------------------------------------------------
  for (const [pm, pyTool] of [
    ['pnpm', 'uv'],
    ['npm', 'pip'],
  ]) {
    const app = join(work, `app-${pm}`);
    writeApp(app, tarballs, pm);
    const env = appEnv({});
    const t = performance.now();
    try {
      if (pm === 'pnpm') sh('pnpm', ['install', '--reporter=append-only'], { cwd: app, env });
      else sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env });
      check(`${pm} install of the tarballs`, true, `${Math.round(performance.now() - t)} ms`);
    } catch (e) {
      check(`${pm} install of the tarballs`, false, e.message);
      continue;
    }
    const back = noPathBack(app);
    check(`${pm}: no @trellis package resolves into the repository`, back.length === 0, back.join(', '));

    const venv = join(app, '.venv');
    if (pyTool === 'uv') {
      sh(uv, ['venv', '--quiet', '--python', 'python3', venv], { env });
      sh(uv, ['pip', 'install', '--quiet', '--python', join(venv, 'bin', 'python'), wheel, 'rapidfuzz>=3'], {
        env,
      });
    } else {
      sh('python3', ['-m', 'venv', venv], { env });
      sh(
        join(venv, 'bin', 'python'),
        ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', wheel, 'rapidfuzz>=3'],
        { env },
      );
    }
    const doctor = spawnSync(join(app, 'node_modules', '.bin', 'trellis'), ['doctor'], {
      cwd: app,
      env: appEnv({}),
      encoding: 'utf8',
    });
    check(
      `${pm}: \`trellis doctor\` in the app passes`,
      doctor.status === 0,
      doctor.status === 0 ? '' : `${doctor.stdout}${doctor.stderr}`,
    );
    if (pm === 'npm') {
      // A Python without the SDK: the fix named must work in this app (the wheel inside
      // node_modules), not in the Trellis repository (`pnpm install`, packages/python-sdk).
      const bare = join(work, 'bare-venv');
      sh('python3', ['-m', 'venv', '--without-pip', bare]);
      const d = spawnSync(join(app, 'node_modules', '.bin', 'trellis'), ['doctor'], {
        cwd: app,
        env: appEnv({ TRELLIS_PYTHON: join(bare, 'bin', 'python') }),
        encoding: 'utf8',
      });
      const fix = d.stdout.split('\n').find((l) => l.includes('fix:') && l.includes('pip install')) ?? '';
      check(
        `${pm}: a Python without the SDK: doctor fails and names the wheel inside the app`,
        d.status === 1 &&
          fix.includes(join(app, 'node_modules', '@trellis', 'grpc-bridge', 'dist', 'python')) &&
          !/pnpm install|packages\/python-sdk/.test(d.stdout),
        fix || d.stdout,
      );
    }
    await runApp(`${pm} + ${pyTool} wheel`, app, {});
  }
  // The pool provisions its own env (uv, from the wheel inside @trellis/grpc-bridge); the app's own
  // .venv is hidden so nothing else can serve.
  const app = join(work, 'app-npm');
  if (existsSync(join(app, 'node_modules'))) {
    rmSync(join(app, '.venv'), { recursive: true, force: true });
    await runApp('npm + pool-provisioned env (uv)', app, {
      APP_PROVISION: '1',
      TRELLIS_VENV_CACHE: join(work, 'venv-cache'),
      TRELLIS_UV: uv,
    });
  }
} catch (e) {
  check('set-up', false, e.message);
} finally {
  rmSync(work, { recursive: true, force: true });
}
log(`consumer test took ${Math.round((performance.now() - t0) / 1000)} s`);
log(`consumer: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
