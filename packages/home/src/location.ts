/**
 * Where a Trellis home lives (the directory of registry.mdb, health.mdb and leases.mdb): the `dir`
 * option, else `$TRELLIS_HOME`, else `<cwd>/.trellis`. One rule for every package that writes there.
 */
import { resolve } from 'node:path';

export const HOME_DEFAULTS = Object.freeze({
  /** Directory under the working directory when neither the option nor the env var is set. */
  dirName: '.trellis',
  /** Environment variable that overrides the default directory (the `dir` option overrides both). */
  homeEnv: 'TRELLIS_HOME',
});

export interface LocationInput {
  /** Explicit directory; wins over everything. */
  dir?: string | undefined;
  /** Environment to read `TRELLIS_HOME` from; defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Working directory for the default and for relative paths; defaults to `process.cwd()`. */
  cwd?: string;
}

/** The absolute home directory. Precedence: option > `TRELLIS_HOME` > `<cwd>/.trellis`. */
export function resolveHomeDir(input: LocationInput = {}): string {
  const cwd = input.cwd ?? process.cwd();
  if (input.dir !== undefined && input.dir !== '') return resolve(cwd, input.dir);
  const home = (input.env ?? process.env)[HOME_DEFAULTS.homeEnv];
  if (home !== undefined && home !== '') return resolve(cwd, home);
  return resolve(cwd, HOME_DEFAULTS.dirName);
}
