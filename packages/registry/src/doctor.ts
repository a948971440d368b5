/**
 * `trellis doctor` check of the registry directory (loaded by @trellis/core's doctor through this
 * package's package.json "trellis.doctor"): where it is, that it can be written, and the free space
 * left (LMDB grows its file as runs are recorded; a full disk stops every start).
 */
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DoctorCheck } from '@trellis/core/cli';
import { HOME_DEFAULTS, resolveHomeDir } from '@trellis/home';

const MIN_FREE_MIB = 64;

export const doctorChecks: readonly DoctorCheck[] = [
  {
    name: 'registry dir',
    run: (ctx) => {
      const dir = resolveHomeDir({ cwd: ctx.cwd, env: ctx.env });
      // The directory is created on first start: check the nearest folder that exists.
      let probe = dir;
      while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
      const how = `${HOME_DEFAULTS.homeEnv} or ./.trellis`;
      try {
        accessSync(probe, constants.W_OK);
      } catch {
        return {
          status: 'fail',
          detail: `${dir} cannot be written (${probe} is read-only for this user)`,
          fix: `set ${HOME_DEFAULTS.homeEnv}=/a/writable/dir, or run from a writable directory (default ${how})`,
        };
      }
      const fs = statfsSync(probe);
      const freeMiB = Math.floor((Number(fs.bavail) * Number(fs.bsize)) / 2 ** 20);
      if (freeMiB < MIN_FREE_MIB)
        return {
          status: 'fail',
          detail: `${dir}: only ${freeMiB} MiB free`,
          fix: `free disk space, or set ${HOME_DEFAULTS.homeEnv} to a directory on another disk`,
        };
      return {
        status: 'ok',
        detail: `${dir} (${existsSync(dir) ? 'exists' : 'created on first start'}, ${freeMiB} MiB free)`,
      };
    },
  },
];
