/**
 * Finding the Python interpreter that runs the workers:
 *   1. the pool's `python` option, when given;
 *   2. else `$TRELLIS_PYTHON`, when set;
 *   3. else `<repo>/.venv/bin/python`, the project virtualenv `pnpm install` creates
 *      (scripts/setup-python.mjs).
 *
 * The repository root is found by walking up from this module's own file (it sits in
 * packages/grpc-bridge/dist/src or src) to the directory holding pnpm-workspace.yaml, and, failing
 * that, from the working directory; so it works from dist, from a symlinked node_modules and from
 * any working directory.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BRIDGE_DEFAULTS } from '../defaults.js';
import { PythonNotFoundError } from '../errors.js';

export type PythonSource = 'option' | 'env' | 'venv';

export interface ResolvedPython {
  /** What to spawn (an absolute path). */
  readonly command: string;
  readonly source: PythonSource;
  /** The repository root, when found (for `pnpm install` hints and default paths). */
  readonly repoRoot: string | undefined;
}

const MAX_LEVELS = 12;

/** The directory holding pnpm-workspace.yaml above `start`, or undefined. */
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

/** The Trellis repository root, from this module's location first, then from the working directory. */
export function findRepoRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return findUp(here, 'pnpm-workspace.yaml') ?? findUp(process.cwd(), 'pnpm-workspace.yaml');
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

/** Resolves the interpreter or throws ERR_PYTHON_NOT_FOUND naming the command that fixes it. */
export function resolvePython(option?: string, env: NodeJS.ProcessEnv = process.env): ResolvedPython {
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
    throw new PythonNotFoundError(
      `Python not found: ${what} is not an executable file. Point it at a Python >= 3.10 with trellis_worker installed (e.g. ${envName}=/usr/bin/python3 after \`/usr/bin/python3 -m pip install -e packages/python-sdk\`), or unset it to use the project virtualenv that \`pnpm install\` creates`,
      { python: given, source, repoRoot },
    );
  }
  const base = repoRoot ?? process.cwd();
  const venv = join(base, '.venv', 'bin', 'python');
  if (isExecutableFile(venv)) return { command: venv, source: 'venv', repoRoot };
  throw new PythonNotFoundError(
    `Python not found: the project virtualenv ${venv} does not exist. Run \`pnpm install\` in ${base} (it creates .venv and installs trellis_worker, via scripts/setup-python.mjs), or set ${envName}=/path/to/python3 to use another interpreter`,
    { python: venv, source: 'venv', repoRoot },
  );
}

/** The command that fixes a missing trellis_worker package for this interpreter. */
export function sdkInstallHint(py: ResolvedPython): string {
  if (py.source === 'venv')
    return `run \`pnpm install\`${py.repoRoot ? ` in ${py.repoRoot}` : ''} (it installs packages/python-sdk into .venv)`;
  const sdk = py.repoRoot ? join(py.repoRoot, 'packages', 'python-sdk') : 'packages/python-sdk';
  return `run \`${py.command} -m pip install -e ${sdk}\`, or unset ${BRIDGE_DEFAULTS.pythonEnv} to use the project virtualenv (\`pnpm install\`)`;
}

/** Makes a `--tools` reference absolute when it is a path to a .py file (the worker's cwd may differ). */
export function absoluteToolsRef(ref: string, cwd: string): string {
  if (ref.endsWith('.py') && !isAbsolute(ref)) return resolve(cwd, ref);
  return ref;
}
