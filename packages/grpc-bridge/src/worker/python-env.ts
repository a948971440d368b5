/**
 * Per-pool Python environments: a ToolPool with `python: { requirements: ['rapidfuzz>=3'],
 * version: '3.11' }` runs its workers in a virtualenv made for exactly that set of requirements, plus
 * the trellis_worker SDK. The env is made once, cached under a key of (requirements, version, SDK),
 * and reused on the next start.
 *
 * It is made with uv (a PyPI package: `pip install uv`) when uv is found, which is fast and resolves
 * the whole set at once; otherwise with `python -m venv` + pip, after a warning that says so. Each
 * line the tool prints is logged (info, `{ pythonEnv }`), so a first start that installs packages
 * shows its progress instead of hanging silently.
 *
 * Races and crashes: an env is built in a temporary sibling directory (`<key>.tmp-<pid>`) and renamed
 * into place only once complete, so a kill -9 mid-build never leaves a half env that a later start
 * would trust; two pools (or two apps) building the same env at once each build their own copy and
 * the first rename wins (the loser's copy is removed). Leftover temporaries of dead builders are
 * removed by the next build. A venv renamed after creation works for `python -m ...`, the only way
 * Trellis runs it (Python finds its prefix from the pyvenv.cfg next to its executable).
 *
 * The SDK installed into the env: `sdk` in the spec, else $TRELLIS_SDK_WHEEL, else the SDK's source
 * folder when running inside the Trellis repository, else the wheel shipped inside this package
 * (dist/python/trellis_worker-*.whl, built by prepack).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLogger } from '@trellis/core';
import { PythonEnvError } from '../errors.js';

/** What a pool's Python needs (the `python` pool option in its object form). */
export interface PythonEnvSpec {
  /** pip requirement specifiers, e.g. `['rapidfuzz>=3', 'numpy']`. */
  readonly requirements?: readonly string[];
  /** The Python version, e.g. `'3.11'` (uv finds that interpreter; without uv, `python3.11` on PATH). */
  readonly version?: string;
  /** Where the trellis_worker SDK comes from (a wheel file or a source folder); see the file comment. */
  readonly sdk?: string;
}

export interface ProvisionedEnv {
  /** The env's interpreter. */
  readonly python: string;
  readonly dir: string;
  /** True when this call created the env, false when it was reused. */
  readonly created: boolean;
  readonly tool: 'uv' | 'pip';
}

const READY = '.trellis-env.json';

/** Where envs are cached: $TRELLIS_VENV_CACHE, else $XDG_CACHE_HOME/trellis/venvs, else ~/.cache/trellis/venvs. */
export function venvCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRELLIS_VENV_CACHE) return resolve(env.TRELLIS_VENV_CACHE);
  const base = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'trellis', 'venvs');
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter))
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** uv: $TRELLIS_UV, else `uv` on PATH, else next to, or `-m uv` of, the interpreters given (then python3). */
export function findUv(
  env: NodeJS.ProcessEnv = process.env,
  pythons: readonly string[] = [],
): { command: string[]; version: string } | undefined {
  const candidates: string[][] = [];
  if (env.TRELLIS_UV) candidates.push([env.TRELLIS_UV]);
  const uv = onPath('uv', env);
  if (uv) candidates.push([uv]);
  // pip puts uv's binary next to the interpreter it installs into (a venv's bin/).
  for (const p of pythons) if (existsSync(join(dirname(p), 'uv'))) candidates.push([join(dirname(p), 'uv')]);
  for (const p of [...pythons, onPath('python3', env)]) if (p) candidates.push([p, '-m', 'uv']);
  for (const c of candidates) {
    const [cmd, ...pre] = c as [string, ...string[]];
    const r = spawnSync(cmd, [...pre, '--version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0 && r.stdout.startsWith('uv ')) return { command: c, version: r.stdout.trim() };
  }
  return undefined;
}

/** The SDK to install into an env (see the file comment), or undefined when none is found. */
export function findSdkSource(spec: PythonEnvSpec, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (spec.sdk) return resolve(spec.sdk);
  if (env.TRELLIS_SDK_WHEEL) return resolve(env.TRELLIS_SDK_WHEEL);
  // This package's root: the first folder above this module with a package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  // In the Trellis repository, the SDK's sources (a wheel in dist/python is only a leftover of the
  // last `pnpm pack` there, maybe older than the sources).
  const repoSdk = resolve(dir, '..', 'python-sdk');
  if (existsSync(join(repoSdk, 'pyproject.toml'))) return repoSdk;
  const wheels = join(dir, 'dist', 'python');
  if (existsSync(wheels)) {
    const whl = readdirSync(wheels).find((f) => /^trellis_worker-.*\.whl$/.test(f));
    if (whl) return join(wheels, whl);
  }
  return undefined;
}

/**
 * What the sdk source contributes to the cache key: a wheel's bytes, or a source folder's
 * pyproject.toml and trellis_worker/ sources (only those: building the folder leaves build/ and
 * *.egg-info next to them, which must not change the key).
 */
function sdkFingerprint(sdk: string): string {
  const h = createHash('sha256');
  if (sdk.endsWith('.whl')) return h.update(readFileSync(sdk)).digest('hex');
  h.update(readFileSync(join(sdk, 'pyproject.toml')));
  const walk = (d: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (n.name === '__pycache__') continue;
      const p = join(d, n.name);
      if (n.isDirectory()) walk(p);
      else if (/\.(py|pyi|typed)$/.test(n.name)) h.update(p.slice(sdk.length)).update(readFileSync(p));
    }
  };
  walk(join(sdk, 'trellis_worker'));
  return h.digest('hex');
}

export function envKey(spec: PythonEnvSpec, sdk: string, base: string): string {
  const reqs = [...(spec.requirements ?? [])].map((r) => r.trim()).sort();
  return createHash('sha256')
    .update(
      JSON.stringify({
        reqs,
        version: spec.version ?? '',
        base,
        sdk: sdkFingerprint(sdk),
        arch: process.arch,
      }),
    )
    .digest('hex')
    .slice(0, 16);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs a command, logging each output line; rejects with its last lines on failure. */
function runLogged(cmd: string[], env: NodeJS.ProcessEnv, label: string): Promise<void> {
  const log = getLogger();
  return new Promise((res, rej) => {
    const [file, ...args] = cmd as [string, ...string[]];
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (d: Buffer): void => {
      for (const line of d.toString('utf8').split(/\r?\n|\r/)) {
        const t = line.trim();
        if (t === '') continue;
        tail.push(t);
        if (tail.length > 20) tail.shift();
        log.info({ pythonEnv: label }, t);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', rej);
    child.on('close', (code) =>
      code === 0 ? res() : rej(new Error(`\`${cmd.join(' ')}\` exited ${code}:\n${tail.join('\n')}`)),
    );
  });
}

/**
 * The env for `spec`, made if missing. `basePython` is the interpreter to build from when no
 * `version` is asked for (and to run `-m uv`, `-m venv` with).
 */
export async function provisionPythonEnv(
  spec: PythonEnvSpec,
  opts: { basePython: string | undefined; env?: NodeJS.ProcessEnv; pool?: string },
): Promise<ProvisionedEnv> {
  const env = opts.env ?? process.env;
  const log = getLogger();
  const sdk = findSdkSource(spec, env);
  if (sdk === undefined || !existsSync(sdk))
    throw new PythonEnvError(
      `cannot provision a Python env for pool "${opts.pool ?? '?'}": no trellis_worker SDK to install (${sdk ?? 'none found'}); reinstall @trellis/grpc-bridge (its dist/python/ folder holds the SDK wheel), or set TRELLIS_SDK_WHEEL=/path/to/trellis_worker-*.whl`,
      { pool: opts.pool, sdk },
    );
  const base = spec.version
    ? `python${spec.version}`
    : (opts.basePython ?? onPath('python3', env) ?? 'python3');
  const cache = venvCacheDir(env);
  const key = envKey(spec, sdk, base);
  const dir = join(cache, key);
  const python = join(dir, 'bin', 'python');
  mkdirSync(cache, { recursive: true });
  // Temporaries of builders that died (kill -9) are garbage (removed by every start, reuse or build); a live builder's are its own.
  for (const f of readdirSync(cache)) {
    const m = /\.tmp-(\d+)$/.exec(f);
    if (m && !alive(Number(m[1]))) rmSync(join(cache, f), { recursive: true, force: true });
  }
  if (existsSync(join(dir, READY)) && existsSync(python)) {
    log.info({ pythonEnv: dir, pool: opts.pool }, 'reusing the cached Python env');
    const tool = (JSON.parse(readFileSync(join(dir, READY), 'utf8')) as { tool: 'uv' | 'pip' }).tool;
    return { python, dir, created: false, tool };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const reqs = [sdk, ...(spec.requirements ?? [])];
  const uv = findUv(env, opts.basePython ? [opts.basePython] : []);
  // The tools' own temp folder, a sibling named like the env's temporary so that a builder killed
  // -9 has it removed by the next build: uv leaves a `uv-setuptools-<hash>.lock` in TMPDIR for every
  // source tree it builds (the SDK's folder, or an sdist), one more file in the user's /tmp otherwise.
  const toolTmp = `${dir}.tooltmp.tmp-${process.pid}`;
  rmSync(toolTmp, { recursive: true, force: true });
  const childEnv = { ...env, TMPDIR: toolTmp, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
  const label = `${opts.pool ?? 'pool'}: ${(spec.requirements ?? []).join(' ') || 'trellis_worker only'}`;
  try {
    // In the try: a cache folder that cannot be written to fails as ERR_PYTHON_ENV, as the build would.
    mkdirSync(toolTmp, { recursive: true });
    if (uv) {
      log.info(
        { pythonEnv: dir, pool: opts.pool, uv: uv.version },
        `building the Python env with uv (${label})`,
      );
      const pythonArg = spec.version ?? opts.basePython ?? base;
      await runLogged([...uv.command, 'venv', '--quiet', '--python', pythonArg, tmp], childEnv, label);
      await runLogged(
        // --refresh-package: uv keys its build of a local SDK folder on pyproject.toml's mtime only, so
        // it could install an older build of changed sources.
        [
          ...uv.command,
          'pip',
          'install',
          '--refresh-package',
          'trellis-worker',
          '--python',
          join(tmp, 'bin', 'python'),
          ...reqs,
        ],
        childEnv,
        label,
      );
    } else {
      log.warn(
        { pythonEnv: dir, pool: opts.pool },
        `uv not found: building the Python env with \`${base} -m venv\` + pip, which is slower (${label}). Install uv to speed this up: \`pip install uv\` (or set TRELLIS_UV=/path/to/uv)`,
      );
      await runLogged([base, '-m', 'venv', tmp], childEnv, label);
      await runLogged(
        [join(tmp, 'bin', 'python'), '-m', 'pip', 'install', '--progress-bar', 'off', ...reqs],
        childEnv,
        label,
      );
    }
    writeFileSync(
      join(tmp, READY),
      `${JSON.stringify({ tool: uv ? 'uv' : 'pip', requirements: spec.requirements ?? [], version: spec.version, sdk })}\n`,
    );
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another builder renamed its copy first: use that one.
      if (!existsSync(join(dir, READY))) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new PythonEnvError(
      `cannot provision the Python env of pool "${opts.pool ?? '?'}" (${label}) with ${uv ? 'uv' : 'venv + pip'}: ${(err as Error).message}\nCheck the requirement names and versions, that the package index is reachable (PIP_INDEX_URL / UV_INDEX_URL), and, with \`version\`, that Python ${spec.version ?? ''} is installed; run \`trellis doctor\` for the rest`,
      {
        pool: opts.pool,
        requirements: spec.requirements ?? [],
        version: spec.version,
        tool: uv ? 'uv' : 'pip',
      },
    );
  } finally {
    rmSync(toolTmp, { recursive: true, force: true });
  }
  log.info({ pythonEnv: dir, pool: opts.pool }, 'Python env ready');
  return { python: join(dir, 'bin', 'python'), dir, created: true, tool: uv ? 'uv' : 'pip' };
}
