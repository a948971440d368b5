/**
 * `@trellis/core/actor`, the lean entry point for thread-actor modules: it is the same API as the
 * package index (same bindings, so one runtime per thread), it loads nothing the thread's runtime
 * does not need anyway, and a thread actor written against it runs like any other.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import * as full from '@trellis/core';
import * as bundledLean from '@trellis/core/actor';
import { awaitExit, call } from '../src/actor.js';
import { Exit } from '../src/exit-reason.js';
import { nodeOf, type Pid } from '../src/pid.js';
import * as lean from '../src/thread/actor-api.js';
import { spawnThread } from '../src/thread/thread-actor.js';
import { staticGraph } from './fixtures/static-graph.js';
import { fixture, noThreadsLeft } from './fixtures/thread-helpers.js';

afterEach(noThreadsLeft);

const SRC = new URL('../src/', import.meta.url);
const relative = (href: string): string => (href.startsWith(SRC.href) ? href.slice(SRC.href.length) : href);

describe('@trellis/core/actor', () => {
  test('every export is the very binding the package index exports', () => {
    // The API is actor-api.ts's (its .d.ts is what the package exports as the types of
    // `@trellis/core/actor`). The bundled file also exports the runtime's internals, for the
    // package index to import them from it (scripts/bundle-core.mjs); they are not API.
    const names = Object.keys(lean);
    assert.ok(names.length > 30, `only ${names.length} exports`);
    for (const name of names) {
      assert.ok(name in full, `${name} is not exported by @trellis/core`);
      assert.ok(name in bundledLean, `${name} is not exported by @trellis/core/actor`);
      assert.equal(
        (bundledLean as Record<string, unknown>)[name],
        (full as Record<string, unknown>)[name],
        name,
      );
    }
    for (const name of ['defineServer', 'reply', 'noreply', 'stop', 'ignore', 'call', 'send', 'Exit']) {
      assert.ok(names.includes(name), `${name} is missing`);
    }
  });

  test('loads only modules the thread runtime needs anyway; the thread entry adds only itself and the thread errors', () => {
    // The bundle holds these graphs in one file (thread-bundle.test.ts checks the files): a module
    // here that the runtime does not need would weigh on every thread's start.
    const runtime = new Set([
      ...staticGraph(new URL('gen-server.js', SRC)),
      // A thread actor may be a gen_statem (worker-entry starts either behaviour).
      ...staticGraph(new URL('gen-statem/gen-statem.js', SRC)),
      ...staticGraph(new URL('thread/transport.js', SRC)),
    ]);
    for (const pkg of ['ts-pattern', 'piscina']) assert.ok(!runtime.has(pkg), `the runtime loads ${pkg}`);
    const api = staticGraph(new URL('thread/actor-api.js', SRC));
    api.delete(new URL('thread/actor-api.js', SRC).href);
    const extra = [...api].filter((m) => !runtime.has(m)).map(relative);
    assert.deepEqual(extra, [], 'modules a thread would load only because of @trellis/core/actor');
    // worker-entry.ts is the thread's entry and the bundled `@trellis/core/actor`; boot-import.ts
    // starts the import of the actor's module first thing.
    const boot = staticGraph(new URL('thread/worker-entry.js', SRC));
    const bootExtra = [...boot].filter((m) => !runtime.has(m)).map(relative);
    assert.deepEqual(bootExtra.sort(), [
      'thread/actor-api.js',
      'thread/boot-import.js',
      'thread/errors.js',
      'thread/worker-entry.js',
    ]);
  });

  test("a thread actor written against it runs on its thread's one runtime, selective receive included", async () => {
    const pid = (await spawnThread(fixture('thread-lean'), { args: [5] })) as Pid;
    assert.equal(await call(pid, { op: 'get' }), 5);
    assert.equal(await call(pid, { op: 'add', n: 3 }), 8);
    assert.deepEqual(await call(pid, { op: 'node' }), { same: true, id: nodeOf(pid) });
    // A ts-pattern pattern (P.number.gte) built by the module's own copy of ts-pattern.
    assert.deepEqual(await call(pid, { op: 'selective' }), { kind: 'reply', n: 3 });
    assert.deepEqual(await call(pid, { op: 'infos' }), [{ kind: 'reply', n: 1 }]);
    const done = awaitExit(pid);
    assert.equal(await call(pid, { op: 'stop' }), 'bye');
    assert.deepEqual(await done, Exit.normal);
  });
});
