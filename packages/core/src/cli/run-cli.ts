/**
 * The `trellis` command: a dispatcher over the commands the installed @trellis/* packages declare
 * (./commands.ts), plus `doctor` (./doctor.ts), which core owns because every package adds checks to it.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { commandTable, findTrellisPackages, pickEntry } from './commands.js';
import { main as doctorMain } from './doctor.js';
import { type CliStreams, cliStreams } from './streams.js';

type CommandModule = { main(args: readonly string[], io: Partial<CliStreams>): Promise<number> };

function usage(table: Map<string, { summary: string; flag: string | undefined; owner: string }[]>): string {
  const lines = ['usage: trellis <command> [args]', '', 'commands:'];
  lines.push(
    `  ${'doctor'.padEnd(18)} check Node, Python, the SDK, uv, the registry directory... (@trellis/core)`,
  );
  for (const [name, entries] of [...table].sort(([a], [b]) => a.localeCompare(b)))
    for (const e of entries)
      lines.push(`  ${(e.flag ? `${name} ${e.flag}` : name).padEnd(18)} ${e.summary} (${e.owner})`);
  lines.push('', 'More commands appear when you install more @trellis/* packages.', '');
  return lines.join('\n');
}

/** Runs `trellis <args>`; resolves to the exit code. */
export async function runCli(argv: readonly string[], io: Partial<CliStreams> = {}): Promise<number> {
  const streams = cliStreams(io);
  const [name, ...args] = argv;
  if (name === 'doctor') return doctorMain(args, streams);
  const table = commandTable(findTrellisPackages(streams.cwd));
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? streams.stderr : streams.stdout).write(usage(table));
    return name === undefined ? 2 : 0;
  }
  const entries = table.get(name);
  const entry = entries && pickEntry(entries, args);
  if (entry === undefined) {
    const hint =
      entries === undefined
        ? `no installed @trellis/* package provides "${name}"`
        : `"${name}" with these flags needs another @trellis/* package`;
    streams.stderr.write(`trellis: unknown command "${name}": ${hint}\n\n${usage(table)}`);
    return 2;
  }
  if (!existsSync(entry.module)) {
    streams.stderr.write(
      `trellis ${name}: ${entry.module} is missing; ${entry.owner} is not built or not fully installed (reinstall it; in the Trellis repository run \`pnpm build\`)\n`,
    );
    return 1;
  }
  const mod = (await import(pathToFileURL(entry.module).href)) as CommandModule;
  return mod.main(args, streams);
}
