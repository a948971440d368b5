#!/usr/bin/env node
// `pnpm trellis <command> [args]` inside this repository: the same `trellis` bin that
// @trellis/core installs in an app (packages/core/src/cli/), run from this checkout's build. Each
// command lives in the package that owns it, declared in that package's package.json
// ("trellis": { "commands": ... }); see packages/core/src/cli/commands.ts.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const cli = resolve(import.meta.dirname, '..', 'packages', 'core', 'dist', 'src', 'cli', 'run-cli.js');
if (!existsSync(cli)) {
  process.stderr.write('@trellis/core is not built: run `pnpm build` first\n');
  process.exit(1);
}
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { runCli } = await import(pathToFileURL(cli).href);
// pnpm runs scripts from the workspace root; INIT_CWD is where the user typed the command.
process.exitCode = await runCli(process.argv.slice(2), { cwd: process.env.INIT_CWD ?? process.cwd() });
