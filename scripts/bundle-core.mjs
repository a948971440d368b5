#!/usr/bin/env node
// Bundles @trellis/core's runtime entry points with esbuild (part of `pnpm build`, after `tsc -b`).
//
// Why: a thread actor's thread loads the runtime as ES modules, and in a fresh thread Node pays
// about half a millisecond per module. tsc's output is ~14 modules on that path; the bundle is a
// handful of files. Code splitting (one chunk per set of entries that share code) is what keeps ONE
// copy of each module per thread: the package index and `@trellis/core/actor` (which is also the
// thread's entry file) import the same chunk, so node.ts (per-thread state: names, links, the process
// table) exists once in a thread whichever of them the actor's module imports. A thread actor's
// thread loads two files: actor.js and that chunk. See docs/thread-actors.md.
//
// Output: packages/core/dist/bundle/{index,actor,task-pool-worker}.js and chunk files,
// each with a source map. Types stay tsc's (dist/src/**/*.d.ts), as package.json "exports" says.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { build } from 'esbuild';

const core = resolve(import.meta.dirname, '..', 'packages', 'core');
const outdir = resolve(core, 'dist', 'bundle');

const common = {
  absWorkingDir: core,
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies stay packages of their own: piscina is loaded only by task-pool code, ts-pattern only
  // by a selective receive's first pattern (mailbox.ts), and an actor module that imports ts-pattern
  // itself must find the same copy.
  packages: 'external',
  // Error classes name themselves after their class (`this.name = new.target.name`): a class that
  // esbuild renamed to avoid a clash between modules would otherwise change its error's name.
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
  metafile: true,
};

// The runtime: one build, so its entries share chunks (never two copies of a module in a thread).
const runtime = await build({
  ...common,
  entryPoints: {
    // package "."
    index: 'src/index.ts',
    // package "./actor" AND the file hub.ts starts for every thread actor (see worker-entry.ts)
    actor: 'src/thread/worker-entry.ts',
  },
  splitting: true,
  // hub.ts: the bundled runtime finds actor.js next to itself (see ENTRY there).
  define: { TRELLIS_BUNDLED: 'true' },
});

// The file task-pool.ts gives piscina as the worker (`new URL('./task-pool-worker.js')`), on its own:
// in the runtime's build it would share errors.ts with the runtime, which would split errors.ts into
// a chunk of its own and cost every thread actor one more file. Standalone it inlines the two small
// stateless modules it uses (serializeError, the task-pool protocol constants); no runtime state.
const pool = await build({ ...common, entryPoints: { 'task-pool-worker': 'src/task-pool-worker.ts' } });

// Chunk names carry a content hash: remove the files of earlier builds, AFTER the new ones are in
// place (instead of emptying the folder first), so a test that another build runs meanwhile never
// finds the package without its files.
const fresh = new Set(
  [runtime, pool].flatMap((r) => Object.keys(r.metafile.outputs).map((f) => basename(f))),
);
mkdirSync(outdir, { recursive: true });
for (const f of readdirSync(outdir)) if (!fresh.has(f)) rmSync(resolve(outdir, f), { force: true });
