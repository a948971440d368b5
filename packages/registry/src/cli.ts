/**
 * `trellis registry list|sweep`: the registry's command-line face, loaded by scripts/trellis-cli.mjs.
 *
 *   trellis registry list  [--dir DIR] [--json]
 *   trellis registry sweep [--dir DIR] [--dry-run] [--grace-ms N] [--scan-markers runs|home|any] [--json]
 *
 * The directory follows the library's rules: --dir > $TRELLIS_HOME > <cwd>/.trellis.
 */

import { systemClock, TrellisError } from '@trellis/core';
import { type CliStreams, cliStreams, parseFlagsOr, walkFlags } from '@trellis/core/cli';
import { currentIdentity, homeTagFor, resolveHomeDir as resolveRegistryDir } from '@trellis/home';
import { REGISTRY_DEFAULTS } from './defaults.js';
import { type ChildView, type RunView, viewChild, viewRun } from './inspect.js';
import type { RegistryLogger } from './logger.js';
import type { SweepReport, SweptProcess } from './report.js';
import { summarize } from './report.js';
import { RegistryStore } from './store.js';
import { type MarkerScope, sweepRegistry } from './sweep.js';

/** What `trellis registry` runs with: core's CLI streams. */
export type CliIo = CliStreams;

const USAGE = `usage:
  trellis registry list  [--dir DIR] [--json]
      runs and their children, each with its state (alive, dead, reused, reserved)
  trellis registry sweep [--dir DIR] [--dry-run] [--grace-ms N] [--scan-markers runs|home|any] [--json]
      reap the children of runs whose host process is dead (--dry-run: only report)
      --scan-markers home: also processes of this registry's lost runs; any: of every dead Trellis run
the registry directory is --dir, else $TRELLIS_HOME, else ./.trellis
`;

interface Flags {
  dir?: string;
  json: boolean;
  dryRun: boolean;
  graceMs?: number;
  scan?: MarkerScope;
}

/** Runs one `registry` subcommand; resolves to the process exit code. */
export async function main(args: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const out: CliIo = cliStreams(io);
  const [sub, ...rest] = args;
  const flags = parseFlagsOr(() => parseFlags(rest), out.stderr, USAGE);
  if (flags === undefined) return 2;
  const dir = resolveRegistryDir({ dir: flags.dir, env: out.env, cwd: out.cwd });
  try {
    if (sub === 'list') return await list(dir, flags, out);
    if (sub === 'sweep') return await sweep(dir, flags, out);
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
      out.stdout.write(USAGE);
      return sub === undefined ? 2 : 0;
    }
    out.stderr.write(`unknown registry command "${sub}"\n${USAGE}`);
    return 2;
  } catch (err) {
    const code = err instanceof TrellisError ? ` [${err.code}]` : '';
    out.stderr.write(`trellis registry ${sub}: ${(err as Error).message}${code}\n`);
    return 1;
  }
}

function parseFlags(args: readonly string[]): Flags {
  const flags: Flags = { json: false, dryRun: false };
  walkFlags(args, ({ arg, name, value }) => {
    if (name === '--dir') flags.dir = value();
    else if (name === '--json') flags.json = true;
    else if (name === '--dry-run') flags.dryRun = true;
    else if (name === '--grace-ms') {
      const n = Number(value());
      if (!(Number.isFinite(n) && n >= 0)) throw new Error('--grace-ms needs a number >= 0');
      flags.graceMs = n;
    } else if (name === '--scan-markers') {
      const v = value();
      if (v !== 'runs' && v !== 'home' && v !== 'any')
        throw new Error('--scan-markers is one of runs, home, any');
      flags.scan = v;
    } else throw new Error(`unknown option ${arg}`);
  });
  return flags;
}

function stderrLogger(io: CliIo): RegistryLogger {
  return {
    info: () => {
      // The report is printed by the command itself.
    },
    warn: (message) => io.stderr.write(`warning: ${message}\n`),
  };
}

async function list(dir: string, flags: Flags, io: CliIo): Promise<number> {
  if (!RegistryStore.exists(dir)) {
    if (flags.json) io.stdout.write(`${JSON.stringify({ dir, runs: [] }, null, 2)}\n`);
    else io.stdout.write(`no registry at ${dir}\n`);
    return 0;
  }
  // Read-only: listing never moves a bad file aside; it reports it (sweep or the next boot recovers).
  const store = RegistryStore.open({ dir, logger: stderrLogger(io), readOnly: true });
  try {
    const here = currentIdentity(homeTagFor(dir));
    const runs = store.listRuns().map((r) => viewRun(r, here));
    const children = store.listChildren().map(viewChild);
    const byRun = new Map<string, ChildView[]>();
    for (const c of children) byRun.set(c.runId, [...(byRun.get(c.runId) ?? []), c]);
    if (flags.json) {
      const data = { dir, runs: runs.map((r) => ({ ...r, children: byRun.get(r.runId) ?? [] })) };
      const orphans = children.filter((c) => !runs.some((r) => r.runId === c.runId));
      io.stdout.write(
        `${JSON.stringify(orphans.length > 0 ? { ...data, orphanRecords: orphans } : data, null, 2)}\n`,
      );
      return 0;
    }
    io.stdout.write(`registry ${store.path}: ${runs.length} run(s), ${children.length} child record(s)\n`);
    for (const r of runs) printRun(io, r, byRun.get(r.runId) ?? []);
    for (const [runId, list] of byRun) {
      if (!runs.some((r) => r.runId === runId)) {
        io.stdout.write(`run ${runId}  (no run record)\n`);
        for (const c of list) printChild(io, c);
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}

function printRun(io: CliIo, r: RunView, children: readonly ChildView[]): void {
  io.stdout.write(
    `run ${r.runId}  host ${r.hostPid} ${r.host}  on ${r.hostname}  since ${r.startedAt}  (${children.length} children)\n`,
  );
  for (const c of children) printChild(io, c);
}

function printChild(io: CliIo, c: ChildView): void {
  const pid = c.pid === undefined ? '-' : String(c.pid);
  io.stdout.write(
    `  ${c.status.padEnd(8)} pid ${pid.padEnd(7)} ${c.role}/${c.name}  ${[c.command, ...c.args].join(' ').slice(0, 120)}\n`,
  );
}

async function sweep(dir: string, flags: Flags, io: CliIo): Promise<number> {
  const scope = flags.scan ?? 'runs';
  if (!RegistryStore.exists(dir) && scope === 'runs') {
    io.stdout.write(`no registry at ${dir}; nothing to sweep (--scan-markers home|any scans /proc anyway)\n`);
    return 0;
  }
  const logger = stderrLogger(io);
  const store = RegistryStore.open({ dir, logger });
  try {
    const report = await sweepRegistry(
      {
        store,
        here: currentIdentity(homeTagFor(dir)),
        logger,
        clock: systemClock,
        graceMs: flags.graceMs ?? REGISTRY_DEFAULTS.graceMs,
        killTimeoutMs: REGISTRY_DEFAULTS.killTimeoutMs,
        pollMs: REGISTRY_DEFAULTS.pollMs,
      },
      // After a bad file was moved aside its records are gone: find this registry's runs by marker.
      { dryRun: flags.dryRun, scanMarkers: store.recovery && scope === 'runs' ? 'home' : scope },
    );
    if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else printReport(io, report);
    return report.survivors.length > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}

function printReport(io: CliIo, r: SweepReport): void {
  io.stdout.write(
    `sweep${r.dryRun ? ' (dry run: nothing was signalled or removed)' : ''}: ${summarize(r)}\n`,
  );
  io.stdout.write(
    `runs: ${r.runs.dead.length} dead, ${r.runs.alive.length} alive, ${r.runs.rebooted.length} from an earlier boot, ${r.runs.foreign.length} foreign\n`,
  );
  const section = (title: string, list: readonly SweptProcess[]): void => {
    if (list.length === 0) return;
    io.stdout.write(`${title}:\n`);
    for (const p of list) {
      const who = p.role || p.name ? ` ${p.role ?? ''}/${p.name ?? ''}` : '';
      io.stdout.write(`  pid ${p.pid ?? '-'} pgid ${p.pgid ?? '-'}${who} (${p.source}) run ${p.runId}\n`);
    }
  };
  section(r.dryRun ? 'would kill' : 'killed', r.killed);
  section('needed SIGKILL', r.forced);
  section('dropped, PID reused by another process', r.droppedReused);
  section('dropped, already dead', r.droppedDead);
  section('reservations resolved by marker scan', r.resolvedReservations);
  section('skipped, host alive', r.skippedAlive);
  section('skipped, foreign', r.skippedForeign);
  section('SURVIVED SIGKILL', r.survivors);
}
