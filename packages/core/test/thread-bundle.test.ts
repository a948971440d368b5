/**
 * The esbuild bundle of @trellis/core (scripts/bundle-core.mjs, dist/bundle/): every thread actor
 * runs its `actor.js`, which is also `@trellis/core/actor`; a thread loads that one file and holds
 * ONE runtime, whichever face of the package its module imports (index.js imports its share of the
 * runtime from actor.js).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { awaitExit, call, exit } from '../src/actor.js';
import { Exit } from '../src/exit-reason.js';
import type { Pid } from '../src/pid.js';
import { spawnThread } from '../src/thread/thread-actor.js';
import { staticGraph } from './fixtures/static-graph.js';
import { fixture, noThreadsLeft } from './fixtures/thread-helpers.js';

afterEach(noThreadsLeft);

const BUNDLE = new URL('../bundle/', import.meta.url);

describe('the bundle (dist/bundle)', () => {
  test("a thread actor importing both @trellis/core and @trellis/core/actor runs on one runtime: its entry's", async () => {
    const pid = (await spawnThread(fixture('thread-one-runtime'))) as Pid;
    const seen = (await call(pid, 'probe')) as Record<string, unknown>;
    assert.deepEqual(
      { ...seen, actorUrl: undefined, indexUrl: undefined },
      {
        sameNode: true,
        entryNode: true,
        nameSeen: true,
        sameClasses: true,
        actorUrl: undefined,
        indexUrl: undefined,
      },
    );
    assert.equal(seen.actorUrl, new URL('actor.js', BUNDLE).href);
    assert.equal(seen.indexUrl, new URL('index.js', BUNDLE).href);
    const done = awaitExit(pid);
    exit(pid, 'kill');
    assert.deepEqual(await done, Exit.killed);
  });

  test('the thread entry is one file, and loads neither ts-pattern, piscina nor child_process', () => {
    const graph = staticGraph(new URL('actor.js', BUNDLE));
    const files = [...graph].filter((m) => m.startsWith(BUNDLE.href));
    assert.deepEqual(files, [new URL('actor.js', BUNDLE).href], `the thread entry loads ${files.join(', ')}`);
    for (const heavy of ['ts-pattern', 'piscina', 'node:child_process']) {
      assert.ok(!graph.has(heavy), `the thread entry loads ${heavy}`);
    }
    // The index imports the runtime from it (so a module importing `@trellis/core` adds no second
    // runtime), and the bundle has no other runtime file.
    assert.ok(staticGraph(new URL('index.js', BUNDLE)).has(files[0]!), 'the index does not import actor.js');
    assert.deepEqual(
      readdirSync(BUNDLE)
        .filter((f) => f.endsWith('.js'))
        .sort(),
      ['actor.js', 'index.js', 'task-pool-worker.js'],
    );
  });

  test('the thread entry starts importing the actor module before the runtime evaluates', () => {
    // boot-import.ts must come first in actor.js: the read of the actor's file then overlaps the
    // evaluation of the rest (see boot-import.ts).
    const src = readFileSync(new URL('actor.js', BUNDLE), 'utf8');
    const first = src.match(/^\/\/ (src\/\S+\.ts)$/m)?.[1];
    assert.equal(first, 'src/thread/boot-import.ts');
    assert.match(src.slice(0, src.indexOf('// src/', src.indexOf('// src/') + 1)), /import\(bootData\.url\)/);
  });

  test('every class the bundle exports keeps its name (the bundle is built without keepNames)', async () => {
    for (const f of ['actor.js', 'index.js']) {
      const m = (await import(new URL(f, BUNDLE).href)) as Record<string, unknown>;
      const renamed = Object.entries(m)
        .filter(([, v]) => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v)))
        .filter(([k, v]) => (v as { name: string }).name !== k)
        .map(([k, v]) => `${k} is named ${(v as { name: string }).name}`);
      assert.deepEqual(renamed, [], `${f}: exported classes renamed by esbuild`);
    }
    // What the rename would break: an error's name is its class's (errors.ts).
    const { NoProcError } = (await import(new URL('index.js', BUNDLE).href)) as {
      NoProcError: new (what: string) => Error;
    };
    assert.equal(new NoProcError('x').name, 'NoProcError');
  });

  test('each source module is in exactly one file of the runtime build', () => {
    // task-pool-worker.js is a build of its own (piscina's worker file): it inlines the stateless
    // serializeError and the pool's protocol constants, and nothing of the runtime's state.
    const where = new Map<string, Set<string>>();
    for (const f of readdirSync(BUNDLE)) {
      if (!f.endsWith('.js') || f === 'task-pool-worker.js') continue;
      for (const m of readFileSync(new URL(f, BUNDLE), 'utf8').matchAll(/^\/\/ (src\/\S+\.ts)$/gm)) {
        // (a file may name a module twice: esbuild places some of its statements apart)
        (where.get(m[1]!) ?? where.set(m[1]!, new Set()).get(m[1]!)!).add(f);
      }
    }
    assert.ok(
      where.has('src/node.ts') && where.has('src/supervisor/supervisor.ts'),
      'no module markers found',
    );
    const twice = [...where].filter(([, fs]) => fs.size > 1).map(([m, fs]) => [m, [...fs]]);
    assert.deepEqual(twice, [], 'modules bundled into more than one file');
  });

  test("@trellis/core/actor starts nothing in a thread that is not a thread actor's", async () => {
    // The bundled entry is also the public module: only the hub's BootData makes it run a thread.
    for (const workerData of [undefined, { url: fixture('thread-server').href, start: { args: [] } }]) {
      const w = new Worker(new URL('actor.js', BUNDLE), { workerData });
      const messages: unknown[] = [];
      w.on('message', (m) => messages.push(m));
      const [code] = await once(w, 'exit');
      assert.equal(code, 0);
      assert.deepEqual(messages, []);
    }
  });
});
