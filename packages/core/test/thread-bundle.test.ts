/**
 * The esbuild bundle of @trellis/core (scripts/bundle-core.mjs, dist/bundle/): every thread actor
 * runs its `actor.js`, which is also `@trellis/core/actor`; a thread loads two files (that and the
 * runtime chunk) and holds ONE runtime, whichever face of the package its module imports.
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

  test('the thread entry loads two files, and neither ts-pattern, piscina nor child_process', () => {
    const graph = staticGraph(new URL('actor.js', BUNDLE));
    const files = [...graph].filter((m) => m.startsWith(BUNDLE.href));
    assert.equal(files.length, 2, `the thread entry loads ${files.join(', ')}`);
    for (const heavy of ['ts-pattern', 'piscina', 'node:child_process']) {
      assert.ok(!graph.has(heavy), `the thread entry loads ${heavy}`);
    }
    // The index shares that chunk (so a module importing `@trellis/core` adds no second runtime).
    const chunk = files.find((f) => !f.endsWith('/actor.js'))!;
    assert.ok(
      staticGraph(new URL('index.js', BUNDLE)).has(chunk),
      'the index does not import the runtime chunk',
    );
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
    assert.ok(where.has('src/node.ts') && where.has('src/supervisor.ts'), 'no module markers found');
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
