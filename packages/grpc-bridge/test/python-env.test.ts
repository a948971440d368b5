/**
 * Per-pool Python envs (`python: { requirements, version }`, src/worker/python-env.ts), for real: uv
 * and pip install into throw-away caches, and a pool runs its workers in the env it got.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
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
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findUv, provisionPythonEnv, ToolPool } from '../src/index.js';
import { openTestRun, REPO_ROOT, SDK_TOOLS, type TestRun, VENV_PYTHON } from './helpers.js';

const UV = join(REPO_ROOT, '.venv', 'bin', 'uv');
// The machine's own python (not the project venv, which has uv installed as a module).
const SYSTEM_PYTHON = join(dirname(VENV_PYTHON), 'python3');

describe('per-pool Python envs', () => {
  let run: TestRun;
  let cache: string;
  before(async () => {
    run = await openTestRun();
    cache = mkdtempSync(join(tmpdir(), 'trellis-venv-cache-'));
  });
  after(async () => {
    rmSync(cache, { recursive: true, force: true });
    await run.close();
  });

  test('uv: made once, reused on the next start; a pool runs in it', async () => {
    // The app's TMPDIR: building the env leaves nothing in it (uv's lock files go to a folder of the
    // build's own).
    const appTmp = mkdtempSync(join(tmpdir(), 'trellis-venv-apptmp-'));
    const env = { ...process.env, TRELLIS_VENV_CACHE: cache, TRELLIS_UV: UV, TMPDIR: appTmp };
    let first: Awaited<ReturnType<typeof provisionPythonEnv>>;
    try {
      first = await provisionPythonEnv({ requirements: [] }, { basePython: VENV_PYTHON, env, pool: 't' });
      assert.deepEqual(readdirSync(appTmp), [], 'building the env left files in TMPDIR');
    } finally {
      rmSync(appTmp, { recursive: true, force: true });
    }
    assert.equal(first.created, true);
    assert.equal(first.tool, 'uv');
    const again = await provisionPythonEnv({ requirements: [] }, { basePython: VENV_PYTHON, env, pool: 't' });
    assert.equal(again.created, false);
    assert.equal(again.python, first.python);
    // No temporary build folder is left next to it.
    assert.deepEqual(
      readdirSync(cache).filter((f) => f.includes('.tmp-')),
      [],
    );

    process.env.TRELLIS_VENV_CACHE = cache;
    process.env.TRELLIS_UV = UV;
    try {
      const pool = new ToolPool({
        name: 'env-pool',
        tools: SDK_TOOLS,
        size: 1,
        python: { requirements: [] },
      });
      await pool.start();
      try {
        assert.equal(await pool.call('add', { a: 2, b: 3 }), 5);
        // The worker runs the env's interpreter.
        const [pid] = pool.stats().workers.map((w) => w.pid);
        const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
        assert.equal(argv0, first.python);
      } finally {
        await pool.stop();
      }
    } finally {
      delete process.env.TRELLIS_VENV_CACHE;
      delete process.env.TRELLIS_UV;
    }
  });

  test('a leftover build of a dead builder (kill -9) is removed, never trusted', async () => {
    const env = { ...process.env, TRELLIS_VENV_CACHE: cache, TRELLIS_UV: UV };
    // pid 2^22+1 is above pid_max's default: no such process.
    const stale = join(cache, 'deadbeefdeadbeef.tmp-4194305');
    mkdirSync(join(stale, 'bin'), { recursive: true });
    writeFileSync(join(stale, 'bin', 'python'), '');
    await provisionPythonEnv({ requirements: [] }, { basePython: VENV_PYTHON, env, pool: 't' });
    assert.equal(existsSync(stale), false);
  });

  test('a requirement that does not exist: ERR_PYTHON_ENV naming it, nothing half-made kept', async () => {
    const env = { ...process.env, TRELLIS_VENV_CACHE: cache, TRELLIS_UV: UV };
    const bad = 'trellis-no-such-package-9f3a==0.0.1';
    await assert.rejects(
      provisionPythonEnv({ requirements: [bad] }, { basePython: VENV_PYTHON, env, pool: 'bad' }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_PYTHON_ENV');
        assert.match(e.message, /pool "bad"/);
        assert.match(e.message, /trellis-no-such-package-9f3a/);
        return true;
      },
    );
    assert.deepEqual(
      readdirSync(cache).filter((f) => f.includes('.tmp-')),
      [],
    );
  });

  test('a read-only env cache: ERR_PYTHON_ENV naming the pool, not a bare EROFS', async (t) => {
    // A read-only bind mount of a folder over itself (as registry/test/full-disk.test.ts does): root
    // ignores permission bits, so chmod would not make it read-only in CI.
    if (process.getuid?.() !== 0) return t.skip('needs root to bind-mount a folder read-only');
    const ro = mkdtempSync(join(tmpdir(), 'trellis-venv-ro-'));
    const mounted = spawnSync('mount', ['--bind', ro, ro]).status === 0;
    try {
      if (!mounted) return t.skip('mount --bind is not allowed here');
      const r = spawnSync('mount', ['-o', 'remount,bind,ro', ro], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const env = { ...process.env, TRELLIS_VENV_CACHE: ro, TRELLIS_UV: UV };
      await assert.rejects(
        provisionPythonEnv({ requirements: [] }, { basePython: VENV_PYTHON, env, pool: 'ro' }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'ERR_PYTHON_ENV');
          assert.match(e.message, /pool "ro"/);
          return true;
        },
      );
    } finally {
      if (mounted) spawnSync('umount', [ro]);
      rmSync(ro, { recursive: true, force: true });
    }
  });

  test('without uv: python -m venv + pip, after a warning that says so', async (t) => {
    // A PATH with neither uv nor a python3 that has it: only the interpreter's own directory.
    if (!existsSync(SYSTEM_PYTHON)) return t.skip('no python3 next to the project venv');
    const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_VENV_CACHE: cache, PATH: '/usr/bin:/bin' };
    delete env.TRELLIS_UV;
    const base = realpathSync(SYSTEM_PYTHON);
    if (findUv(env, [base]) !== undefined) return t.skip('uv is installed system-wide here');
    const made = await provisionPythonEnv({ requirements: [] }, { basePython: base, env, pool: 'pip' });
    assert.equal(made.tool, 'pip');
    assert.equal(made.created, true);
    assert.ok(existsSync(made.python));
  });

  test('malformed python option: ERR_INVALID_POOL_OPTIONS naming the field', () => {
    assert.throws(
      () => new ToolPool({ name: 'x', tools: SDK_TOOLS, python: { requirements: 'rapidfuzz' as never } }),
      /python\.requirements/,
    );
    assert.throws(
      () => new ToolPool({ name: 'x', tools: SDK_TOOLS, python: { version: 'three' } }),
      /python\.version/,
    );
  });
});
