/**
 * `trellis doctor` checks of the Python side (loaded by @trellis/core's doctor through this
 * package's package.json "trellis.doctor"): the interpreter the pools would use, the SDK with its
 * generated stubs, grpcio and protobuf, and uv (which provisions per-pool virtualenvs).
 */
import { spawnSync } from 'node:child_process';
import type { DoctorCheck, DoctorContext, DoctorFinding } from '@trellis/core/cli';
import { resolvePython, sdkInstallHint } from './worker/python.js';
import { findUv, venvCacheDir } from './worker/python-env.js';

function python(ctx: DoctorContext): ReturnType<typeof resolvePython> | DoctorFinding {
  try {
    return resolvePython(undefined, { ...ctx.env } as NodeJS.ProcessEnv, ctx.cwd);
  } catch (err) {
    const e = err as Error & { fix?: string };
    return { status: 'fail', detail: e.message };
  }
}

const PROBE = [
  'import sys, importlib.metadata as md',
  'print(".".join(map(str, sys.version_info[:3])))',
  'import trellis_worker, grpc, google.protobuf',
  'from trellis_worker import _stubs',
  'print(trellis_worker.__version__, grpc.__version__, google.protobuf.__version__)',
].join('\n');

export const doctorChecks: readonly DoctorCheck[] = [
  {
    name: 'python',
    run: (ctx) => {
      const py = python(ctx);
      if ('status' in py) return py;
      const r = spawnSync(py.command, ['-c', 'import sys; print(sys.version.split()[0])'], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      if (r.status !== 0) return { status: 'fail', detail: `${py.command} does not run: ${r.stderr.trim()}` };
      const version = r.stdout.trim();
      const [maj = 0, min = 0] = version.split('.').map(Number);
      if (maj < 3 || (maj === 3 && min < 10))
        return { status: 'fail', detail: `${py.command} is Python ${version}`, fix: 'use Python >= 3.10' };
      return { status: 'ok', detail: `Python ${version} (${py.command}, from ${py.source})` };
    },
  },
  {
    name: 'trellis_worker',
    run: (ctx) => {
      const py = python(ctx);
      if ('status' in py) return { status: 'skip', detail: 'no Python' };
      const r = spawnSync(py.command, ['-c', PROBE], { encoding: 'utf8', timeout: 30_000 });
      if (r.status !== 0) {
        const last = r.stderr.trim().split('\n').at(-1) ?? '';
        return { status: 'fail', detail: `${py.command}: ${last}`, fix: sdkInstallHint(py) };
      }
      const [sdk, grpc, pb] = (r.stdout.trim().split('\n')[1] ?? '').split(' ');
      return { status: 'ok', detail: `trellis_worker ${sdk} with its stubs, grpcio ${grpc}, protobuf ${pb}` };
    },
  },
  {
    name: 'uv',
    run: (ctx) => {
      const py = python(ctx);
      const uv = findUv({ ...ctx.env } as NodeJS.ProcessEnv, 'command' in py ? [py.command] : []);
      if (uv === undefined)
        return {
          status: 'warn',
          detail:
            'uv not found: pools with `python: { requirements }` fall back to `python -m venv` + pip (slower)',
          fix: 'pip install uv   (or pipx install uv; or set TRELLIS_UV=/path/to/uv)',
        };
      return { status: 'ok', detail: `${uv.version} (${uv.command.join(' ')})` };
    },
  },
  {
    name: 'venv cache',
    run: (ctx) => {
      const dir = venvCacheDir({ ...ctx.env } as NodeJS.ProcessEnv);
      return { status: 'ok', detail: `per-pool virtualenvs go to ${dir} (TRELLIS_VENV_CACHE to move it)` };
    },
  },
];
