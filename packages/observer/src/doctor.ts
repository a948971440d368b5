/**
 * `trellis doctor` check of what the observer can use (loaded by @trellis/core's doctor through this
 * package's package.json "trellis.doctor"): a Chromium, for headless screenshots of the observer's
 * page and for its browser test. The page itself works in any browser, so a missing Chromium is a
 * warning, not a failure.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { DoctorCheck } from '@trellis/core/cli';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

export const doctorChecks: readonly DoctorCheck[] = [
  {
    name: 'chromium',
    run: (ctx) => {
      for (const dir of (ctx.env.PATH ?? '').split(delimiter))
        for (const n of NAMES) {
          try {
            accessSync(join(dir, n), constants.X_OK);
            return { status: 'ok', detail: join(dir, n) };
          } catch {}
        }
      return {
        status: 'warn',
        detail: 'no Chromium on PATH (only needed for headless views of the observer page)',
        fix: 'sudo apt-get install -y chromium   (macOS: brew install --cask chromium)',
      };
    },
  },
];
