/**
 * Where `trellis <command>` finds its commands: every installed `@trellis/*` package may own some.
 *
 * Why a discovery instead of a fixed table: the `trellis` bin ships in @trellis/core (every app has
 * it), but the commands belong to the packages that know their subject (`registry` to
 * @trellis/registry, `status` to @trellis/observer, `status --cluster` to @trellis/cluster...). A
 * package declares its commands in its own package.json, so a new package adds commands without
 * touching core:
 *
 *   "trellis": {
 *     "commands": {
 *       "registry": { "module": "./dist/src/cli.js", "summary": "list and sweep the process registry" },
 *       "status": { "module": "./dist/src/status-cli.js", "summary": "...", "flag": "--cluster" }
 *     },
 *     "doctor": "./dist/src/doctor.js"
 *   }
 *
 * A command module exports `main(args, io): Promise<number>` (the exit code). An entry with `flag`
 * handles the command only when that flag is on the command line (so one package can extend another
 * package's command); the entry without `flag` handles the rest. A doctor module exports
 * `doctorChecks: DoctorCheck[]` (./doctor.ts).
 *
 * Packages are looked for, first found wins per name: in `node_modules/@trellis/` of the working
 * directory and its parents (the user's app, npm or pnpm), then next to this package itself (npm's
 * flat tree, pnpm's virtual store), then in the `packages/` folder of a pnpm workspace above either
 * (the Trellis repository itself).
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CommandEntry {
  /** Absolute path of the module exporting `main`. */
  readonly module: string;
  readonly summary: string;
  /** When set, this entry handles the command only when this flag is among its arguments. */
  readonly flag: string | undefined;
  /** The package that owns it. */
  readonly owner: string;
}

export interface TrellisPackage {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly commands: ReadonlyMap<string, readonly CommandEntry[]>;
  /** Absolute path of the package's doctor module, when it has one. */
  readonly doctor: string | undefined;
}

interface Manifest {
  name?: unknown;
  version?: unknown;
  trellis?: {
    commands?: Record<string, { module?: unknown; summary?: unknown; flag?: unknown }>;
    doctor?: unknown;
  };
}

function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

function toPackage(dir: string): TrellisPackage | undefined {
  const m = readManifest(dir);
  if (!m || typeof m.name !== 'string' || !m.name.startsWith('@trellis/')) return undefined;
  const commands = new Map<string, CommandEntry[]>();
  for (const [name, c] of Object.entries(m.trellis?.commands ?? {})) {
    if (typeof c?.module !== 'string') continue;
    const entry: CommandEntry = {
      module: resolve(dir, c.module),
      summary: typeof c.summary === 'string' ? c.summary : '',
      flag: typeof c.flag === 'string' ? c.flag : undefined,
      owner: m.name,
    };
    commands.set(name, [...(commands.get(name) ?? []), entry]);
  }
  const doctor = typeof m.trellis?.doctor === 'string' ? resolve(dir, m.trellis.doctor) : undefined;
  return { name: m.name, version: String(m.version ?? ''), dir, commands, doctor };
}

function ancestors(start: string): string[] {
  const out: string[] = [];
  let dir = resolve(start);
  for (;;) {
    out.push(dir);
    const parent = dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

function childDirs(dir: string): string[] {
  try {
    return readdirSync(dir).map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** This package's own directory (dist/src/cli/ is three levels below it). */
function selfDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  try {
    return realpathSync(resolve(here, '..', '..', '..'));
  } catch {
    return resolve(here, '..', '..', '..');
  }
}

/** Every installed @trellis/* package visible from `cwd` (see the file comment for the order). */
export function findTrellisPackages(cwd: string): TrellisPackage[] {
  const candidates: string[] = [];
  const self = selfDir();
  for (const base of [...ancestors(cwd), ...ancestors(self)])
    candidates.push(...childDirs(join(base, 'node_modules', '@trellis')));
  for (const base of [...ancestors(self), ...ancestors(cwd)])
    if (existsSync(join(base, 'pnpm-workspace.yaml'))) candidates.push(...childDirs(join(base, 'packages')));
  const byName = new Map<string, TrellisPackage>();
  for (const dir of candidates) {
    const p = toPackage(dir);
    if (p && !byName.has(p.name)) byName.set(p.name, p);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Command name -> its entries, across packages. */
export function commandTable(packages: readonly TrellisPackage[]): Map<string, CommandEntry[]> {
  const table = new Map<string, CommandEntry[]>();
  for (const p of packages)
    for (const [name, entries] of p.commands) table.set(name, [...(table.get(name) ?? []), ...entries]);
  return table;
}

/** The entry that handles `args`: one whose flag is present, else the one without a flag. */
export function pickEntry(
  entries: readonly CommandEntry[],
  args: readonly string[],
): CommandEntry | undefined {
  return (
    entries.find((e) => e.flag !== undefined && args.includes(e.flag)) ??
    entries.find((e) => e.flag === undefined)
  );
}
