#!/usr/bin/env node
// Bundles @trellis/core's runtime entry points with esbuild (part of `pnpm build`, after `tsc -b`).
//
// Why: a thread actor's thread loads the runtime as ES modules, and in a fresh thread Node pays for
// every file: an asynchronous read in a row, a module record, a compile. tsc's output is ~14 modules
// on that path; the bundle makes it ONE file, dist/bundle/actor.js (worker-entry.ts and its whole
// static graph), which is both the thread's entry and `@trellis/core/actor`. The package index,
// dist/bundle/index.js, holds the rest and imports its share of the runtime from ./actor.js, so
// node.ts (per-thread state: names, links, the process table) exists once in a thread whichever of
// the two the actor's module imports. See docs/thread-actors.md.
//
// Output: packages/core/dist/bundle/{index,actor,task-pool-worker}.js, each with a source map.
// Types stay tsc's (dist/src/**/*.d.ts), as package.json "exports" says.
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
  // No keepNames: it wraps every function and class in a `__name(...)` call, at load AND each time a
  // closure is created on a hot path (a serverLoop, a call's promise). It would only matter
  // for a class that esbuild renames to avoid a clash (error classes name themselves after their
  // class, `this.name = new.target.name`); thread-bundle.test.ts checks that no exported class is.
  sourcemap: true,
  logLevel: 'warning',
  metafile: true,
};

// The thread runtime: ONE file, dist/bundle/actor.js, holding worker-entry.ts and its whole static
// graph (node.ts, the gen_server, the transport...). A thread-actor thread loads that one file and
// the actor's module: each file a thread loads is one more asynchronous read in a row before the
// actor can start (measured: a split runtime chunk cost about 0.5 to 1 ms per cold start here).
// First, which modules that graph holds:
const graph = await build({
  ...common,
  entryPoints: ['src/thread/worker-entry.ts'],
  write: false,
  sourcemap: false,
});
const runtimeModules = Object.keys(graph.metafile.inputs).filter((f) => f.startsWith('src/'));
// actor.js exports every binding of those modules, not only `@trellis/core/actor`'s API: the index
// imports its share of the runtime from actor.js (below), so that a thread whose actor imports
// `@trellis/core` still holds ONE runtime (a second node.ts in a thread would be a second Node).
// The types, i.e. the public face of `@trellis/core/actor`, stay thread/actor-api.ts's.
const runtimeEntry = [
  'src/thread/worker-entry.ts',
  ...runtimeModules.filter((f) => f !== 'src/thread/worker-entry.ts'),
]
  .map((f) => `export * from './${f}';`)
  .join('\n');
const runtime = await build({
  ...common,
  stdin: { contents: runtimeEntry, resolveDir: core, sourcefile: 'actor-entry.ts', loader: 'ts' },
  outdir: undefined,
  outfile: resolve(outdir, 'actor.js'),
  // hub.ts: the bundled runtime finds actor.js next to itself (see ENTRY there).
  define: { TRELLIS_BUNDLED: 'true' },
});
const actorExports = new Set(
  runtime.metafile.outputs[Object.keys(runtime.metafile.outputs).find((f) => f.endsWith('actor.js'))].exports,
);

// The package index: everything else. Its imports of runtime modules become imports of the same
// names from ./actor.js, module by module (so the index exports exactly what src/index.ts says, and
// nothing of actor.js's internals). Which names each runtime module exports:
const perModule = await build({
  ...common,
  entryPoints: runtimeModules,
  outdir: resolve(core, 'dist', 'bundle-exports'), // never written
  write: false,
  sourcemap: false,
});
const exportsOf = new Map(
  Object.values(perModule.metafile.outputs)
    .filter((o) => o.entryPoint !== undefined)
    .map((o) => [resolve(core, o.entryPoint), o.exports]),
);
const RUNTIME_NS = 'trellis-runtime';
// Every runtime module's stand-in re-exports its names from ONE module that imports them all from
// actor.js: two stand-ins re-exporting the same binding (actor.ts re-exports mailbox.ts's
// NO_MESSAGE) must give the SAME binding, or the index's two `export *` of it would be ambiguous.
const ALL = './@runtime';
const allNames = [...new Set([...exportsOf.values()].flat())];
const importRuntimeFromActor = {
  name: 'runtime-from-actor-js',
  setup(b) {
    b.onResolve({ filter: /^\./ }, async (args) => {
      if (args.namespace === RUNTIME_NS) {
        return args.path === ALL
          ? { path: ALL, namespace: RUNTIME_NS }
          : { path: './actor.js', external: true };
      }
      if (args.pluginData === 'inner') return undefined;
      const r = await b.resolve(args.path, {
        resolveDir: args.resolveDir,
        kind: args.kind,
        pluginData: 'inner',
      });
      return exportsOf.has(r.path) ? { path: r.path, namespace: RUNTIME_NS } : r;
    });
    b.onLoad({ filter: /.*/, namespace: RUNTIME_NS }, (args) => {
      const names = args.path === ALL ? allNames : exportsOf.get(args.path);
      const missing = names.filter((n) => !actorExports.has(n));
      if (missing.length > 0) throw new Error(`actor.js does not export ${missing.join(', ')}`);
      const from = args.path === ALL ? './actor.js' : ALL;
      return { contents: `export { ${names.join(', ')} } from '${from}';`, loader: 'js', resolveDir: outdir };
    });
  },
};
const index = await build({
  ...common,
  entryPoints: { index: 'src/index.ts' },
  plugins: [importRuntimeFromActor],
  define: { TRELLIS_BUNDLED: 'true' },
});

// The file task-pool.ts gives piscina as the worker (`new URL('./task-pool-worker.js')`), on its own:
// a piscina thread needs none of the runtime, so it does not load actor.js. Standalone it inlines
// the two small stateless modules it uses (serializeError, the task-pool protocol constants).
const pool = await build({
  ...common,
  entryPoints: { 'task-pool-worker': 'src/task-pool/task-pool-worker.ts' },
});

// Chunk names carry a content hash: remove the files of earlier builds, AFTER the new ones are in
// place (instead of emptying the folder first), so a test that another build runs meanwhile never
// finds the package without its files.
const fresh = new Set(
  [runtime, index, pool].flatMap((r) => Object.keys(r.metafile.outputs).map((f) => basename(f))),
);
mkdirSync(outdir, { recursive: true });
for (const f of readdirSync(outdir)) if (!fresh.has(f)) rmSync(resolve(outdir, f), { force: true });
