#!/usr/bin/env node
// The `trellis` executable of @trellis/core. A committed plain-JS file (not a build output) so that
// package managers can link it before the package is built, in this repository's workspace too; all
// the logic is in src/cli/ (run-cli.ts), built to dist/src/cli/.
import { runCli } from '../dist/src/cli/run-cli.js';

// `trellis doctor | head`: a closed pipe ends the command quietly, as for any Unix tool.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
// Under `npm run` / `pnpm run`, INIT_CWD is where the user typed the command.
process.exitCode = await runCli(process.argv.slice(2), { cwd: process.env.INIT_CWD ?? process.cwd() });
