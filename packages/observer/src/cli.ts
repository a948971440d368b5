#!/usr/bin/env node
/**
 * `pnpm observer`: the observer as a program of its own.
 *
 *   pnpm observer [--dir DIR] [--port N]   a page over what is persisted in the Trellis home (registry
 *                                          runs and processes, heartbeat records, leases) with links
 *                                          to the observers running inside applications there
 *   pnpm observer --demo [--port N]        a small demo tree with the observer, to try the page
 *
 * An application shows its own tree with `observerChild()` in the tree or `withObserver(app)`; a
 * separate process cannot see another process's supervisors, which live in that process's memory.
 */
import { resolveHomeDir } from '@trellis/home';
import { startDemo } from './demo.js';
import { readPersistedHealth, readPersistedLeases } from './health-persisted.js';
import { startObserver } from './observer.js';
import { persistedRegistrySource } from './persisted.js';

const USAGE = `usage: pnpm observer [--dir DIR] [--port N] [--demo]
  --dir DIR   the Trellis home (default $TRELLIS_HOME, else ./.trellis)
  --port N    port on 127.0.0.1 (default: any free port)
  --demo      run a small demo tree and observe it
`;

interface Flags {
  dir?: string;
  port?: number;
  demo: boolean;
}

function parse(args: readonly string[]): Flags {
  const f: Flags = { demo: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw new Error(`${name} needs a value`);
      return v;
    };
    if (name === '--dir') f.dir = value();
    else if (name === '--port') f.port = Number(value());
    else if (name === '--demo') f.demo = true;
    else throw new Error(`unknown option ${a}`);
  }
  return f;
}

async function run(): Promise<void> {
  let flags: Flags;
  try {
    flags = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (flags.demo) {
    const demo = await startDemo({ port: flags.port });
    const stop = () => void demo.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const dir = resolveHomeDir({ dir: flags.dir, cwd });
  const obs = await startObserver({
    port: flags.port,
    title: 'Trellis home',
    registry: persistedRegistrySource(dir),
    health: { records: async () => (await readPersistedHealth(dir)).records },
    leases: { leases: async () => (await readPersistedLeases(dir)).leases },
    listAnnounced: dir,
    announce: false,
  });
  console.log(`trellis observer: showing ${dir}; Ctrl-C to stop`);
  const stop = () => void obs.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await run();
