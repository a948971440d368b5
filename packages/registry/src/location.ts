/**
 * Where the registry lives: the `dir` option, else `$TRELLIS_HOME`, else `<cwd>/.trellis`.
 */
import { resolve } from 'node:path';
import { REGISTRY_DEFAULTS } from './defaults.js';

export interface LocationInput {
  /** Explicit directory; wins over everything. */
  dir?: string | undefined;
  /** Environment to read `TRELLIS_HOME` from; defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Working directory for the default and for relative paths; defaults to `process.cwd()`. */
  cwd?: string;
}

/** The absolute registry directory. Precedence: option > `TRELLIS_HOME` > `<cwd>/.trellis`. */
export function resolveRegistryDir(input: LocationInput = {}): string {
  const cwd = input.cwd ?? process.cwd();
  if (input.dir !== undefined && input.dir !== '') return resolve(cwd, input.dir);
  const home = (input.env ?? process.env)[REGISTRY_DEFAULTS.homeEnv];
  if (home !== undefined && home !== '') return resolve(cwd, home);
  return resolve(cwd, REGISTRY_DEFAULTS.dirName);
}
