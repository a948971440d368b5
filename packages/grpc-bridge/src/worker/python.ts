/**
 * Finding the Python interpreter that runs the workers. The order (docs/python-tool-server.md,
 * "How Python is found", is the same table):
 *   1. the pool's `python` option: an interpreter (path, or command name looked up on PATH), or
 *      `{ requirements, version }`, for which an env is provisioned (python-env.ts);
 *   2. `$TRELLIS_PYTHON`;
 *   3. `$VIRTUAL_ENV/bin/python`, the virtualenv activated in the shell that started the app;
 *   4. `.venv/bin/python` in the app's working directory or the nearest folder above it;
 *   5. `<Trellis checkout>/.venv/bin/python` when this package runs from a Trellis repository
 *      (the virtualenv `pnpm install` makes there, scripts/setup-python.mjs);
 *   6. `python3` on PATH.
 * The first that exists wins; none is ERR_PYTHON_NOT_FOUND. Whether it has trellis_worker is seen
 * when the worker starts (ERR_PYTHON_SDK_MISSING), with a hint that works where the app is: in a
 * user's app, installing the wheel that ships inside this package, or letting the pool provision.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BRIDGE_DEFAULTS } from '../defaults.js';
import { PythonNotFoundError } from '../errors.js';
import { findSdkSource, type PythonEnvSpec, provisionPythonEnv } from './python-env.js';

export type PythonSource = 'option' | 'env' | 'active-venv' | 'app-venv' | 'venv' | 'path' | 'provisioned';

export interface ResolvedPython {
  /** What to spawn (an absolute path). */
  readonly command: string;
  readonly source: PythonSource;
  /** The Trellis checkout this package runs from, if any (for `pnpm install` hints). */
  readonly repoRoot: string | undefined;
}

const MAX_LEVELS = 12;

/** The nearest folder at or above `start` holding `marker`, or undefined. */
function findUp(start: string, marker: string): string | undefined {
  let dir = resolve(start);
  for (let i = 0; i < MAX_LEVELS; i++) {
    if (existsSync(join(dir, marker))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

/**
 * The Trellis repository this package runs from (a checkout: its packages/python-sdk next to this
 * package), found from this module's own location only: a user's app that happens to be a pnpm
 * workspace is not the Trellis repository.
 */
export function findRepoRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return findUp(here, join('packages', 'python-sdk', 'pyproject.toml'));
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A bare command name (no slash) looked up on PATH, as spawn would. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The commands that install the SDK into `python`, in the user's setting. */
function installSdkCommand(python: string, repoRoot: string | undefined): string {
  if (repoRoot !== undefined)
    return `${python} -m pip install -e ${join(repoRoot, 'packages', 'python-sdk')}`;
  const wheel = findSdkSource({}) ?? 'node_modules/@trellis/grpc-bridge/dist/python/trellis_worker-*.whl';
  return `${python} -m pip install ${wheel}`;
}

/** Resolves the interpreter (the order is in the file comment) or throws ERR_PYTHON_NOT_FOUND. */
export function resolvePython(
  option?: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ResolvedPython {
  const repoRoot = findRepoRoot();
  const envName = BRIDGE_DEFAULTS.pythonEnv;
  const fromEnv = env[envName];
  if (option !== undefined || (fromEnv !== undefined && fromEnv !== '')) {
    const source: PythonSource = option !== undefined ? 'option' : 'env';
    const given = (option ?? fromEnv) as string;
    const found = given.includes('/')
      ? isExecutableFile(resolve(given))
        ? resolve(given)
        : undefined
      : onPath(given, env);
    if (found !== undefined) return { command: found, source, repoRoot };
    const what = source === 'option' ? `the pool option python: "${given}"` : `${envName}=${given}`;
    const fallback =
      repoRoot !== undefined
        ? `or unset it to use the project virtualenv that \`pnpm install\` creates in ${repoRoot}`
        : `or unset it to use ./.venv of the app, or give the pool python: { requirements: [...] } and Trellis makes the env`;
    throw new PythonNotFoundError(
      `Python not found: ${what} is not an executable file. Point it at a Python >= 3.10 with trellis_worker installed (e.g. ${envName}=/usr/bin/python3 after \`${installSdkCommand('/usr/bin/python3', repoRoot)}\`), ${fallback}`,
      { python: given, source, repoRoot },
    );
  }
  const candidates: [string | undefined, PythonSource][] = [
    [env.VIRTUAL_ENV ? join(env.VIRTUAL_ENV, 'bin', 'python') : undefined, 'active-venv'],
    [
      ((d) => (d === undefined ? undefined : join(d, '.venv', 'bin', 'python')))(
        findUp(cwd, join('.venv', 'bin', 'python')),
      ),
      'app-venv',
    ],
    [repoRoot === undefined ? undefined : join(repoRoot, '.venv', 'bin', 'python'), 'venv'],
    [onPath('python3', env), 'path'],
  ];
  for (const [p, source] of candidates) {
    if (p !== undefined && isExecutableFile(p))
      // The repo's own venv found from the working directory is still the repo's venv.
      return {
        command: p,
        source:
          source === 'app-venv' && repoRoot !== undefined && p === join(repoRoot, '.venv', 'bin', 'python')
            ? 'venv'
            : source,
        repoRoot,
      };
  }
  throw new PythonNotFoundError(
    repoRoot !== undefined
      ? `Python not found: the project virtualenv ${join(repoRoot, '.venv', 'bin', 'python')} does not exist and there is no python3 on PATH. Run \`pnpm install\` in ${repoRoot} (it creates .venv and installs trellis_worker, via scripts/setup-python.mjs), or set ${envName}=/path/to/python3 to use another interpreter`
      : `Python not found: no ${envName}, no activated virtualenv, no .venv in ${cwd} or above, and no python3 on PATH. Install Python >= 3.10, then either give the pool python: { requirements: [...] } (Trellis makes the env), or make .venv in your app: \`python3 -m venv .venv && ${installSdkCommand('.venv/bin/python', undefined)}\``,
    { source: 'venv', repoRoot, cwd },
  );
}

/** The command that fixes a missing trellis_worker package for this interpreter, where the app is. */
export function sdkInstallHint(py: ResolvedPython): string {
  if (py.source === 'venv')
    return `run \`pnpm install\`${py.repoRoot ? ` in ${py.repoRoot}` : ''} (it installs packages/python-sdk into .venv)`;
  if (py.source === 'provisioned')
    return `the provisioned env ${dirname(dirname(py.command))} is damaged: delete it and start again (it is rebuilt)`;
  const other =
    py.repoRoot !== undefined
      ? `, or unset ${BRIDGE_DEFAULTS.pythonEnv} to use the project virtualenv (\`pnpm install\`)`
      : ', or give the pool python: { requirements: [...] } and Trellis makes an env with the SDK';
  return `run \`${installSdkCommand(py.command, py.repoRoot)}\`${other}`;
}

/** Makes a `--tools` reference absolute when it is a path to a .py file (the worker's cwd may differ). */
export function absoluteToolsRef(ref: string, cwd: string): string {
  if (ref.endsWith('.py') && !isAbsolute(ref)) return resolve(cwd, ref);
  return ref;
}

/**
 * The interpreter of a pool that declares what it needs (`python: { requirements, version }`): the
 * env provisioned for it (python-env.ts), built from the interpreter the rules above would pick, or
 * from `python3` on PATH when they find none.
 */
export async function provisionedPython(
  spec: PythonEnvSpec,
  pool: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Promise<ResolvedPython> {
  let base: string | undefined;
  try {
    base = resolvePython(undefined, env, cwd).command;
  } catch {
    base = undefined; // provisionPythonEnv falls back to python3 on PATH and says so if missing
  }
  const made = await provisionPythonEnv(spec, { basePython: base, env, pool });
  return { command: made.python, source: 'provisioned', repoRoot: findRepoRoot() };
}
