#!/usr/bin/env node
// `pnpm trellis <command> [args]`: a small dispatcher. Each command lives in a package, built to its
// dist/, and exports `main(args: string[], io?: { cwd, env, stdout, stderr }): Promise<number>` (the
// exit code). To add a command, add one line to COMMANDS; nothing else here needs to change.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');

const COMMANDS = {
  registry: {
    module: 'packages/registry/dist/src/cli.js',
    summary: 'list and sweep the OS-process registry',
  },
  status: {
    module: 'packages/observer/dist/src/status-cli.js',
    summary:
      'print the supervision tree (a running observer, else the persisted registry); --cluster: every node of a cluster on etcd',
  },
  logs: {
    module: 'packages/observer/dist/src/logs-cli.js',
    summary: "follow the pools' worker logs from a running observer (logs [pool] [-f])",
  },
};

function usage(stream) {
  stream.write('usage: pnpm trellis <command> [args]\n\ncommands:\n');
  for (const [name, c] of Object.entries(COMMANDS)) stream.write(`  ${name.padEnd(10)} ${c.summary}\n`);
}

const [name, ...args] = process.argv.slice(2);
if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
  usage(name === undefined ? process.stderr : process.stdout);
  process.exit(name === undefined ? 2 : 0);
}
// `status --cluster` is a cluster's view from etcd (@trellis/cluster), not this host's tree.
const CLUSTER_STATUS = {
  module: 'packages/cluster/dist/src/status-cli.js',
  summary: 'every node of a cluster on etcd',
};
const command =
  name === 'status' && args.includes('--cluster')
    ? CLUSTER_STATUS
    : Object.hasOwn(COMMANDS, name)
      ? COMMANDS[name]
      : undefined;
if (!command) {
  process.stderr.write(`unknown command "${name}"\n`);
  usage(process.stderr);
  process.exit(2);
}
const file = resolve(root, command.module);
if (!existsSync(file)) {
  process.stderr.write(`${command.module} is not built: run \`pnpm build\` first\n`);
  process.exit(1);
}
const mod = await import(pathToFileURL(file).href);
// pnpm runs scripts from the workspace root; INIT_CWD is where the user typed the command.
const code = await mod.main(args, { cwd: process.env.INIT_CWD ?? process.cwd() });
process.exitCode = code;
