/**
 * Type tests: the code the documentation shows, checked by `tsc --noEmit -p docs/snippets` (part of
 * `pnpm lint`) against the packages' sources. Each block names the page it comes from; when a page's
 * example changes, change it here too. Nothing here runs: a snippet that stops type-checking is a
 * documentation bug (or an API break) caught before a user meets it.
 */
import {
  call,
  defineServer,
  noreply,
  reply,
  serverChild,
  start,
  taskPoolChild,
  threadChild,
} from '@trellis/core';
import { ToolPool } from '@trellis/grpc-bridge';
import { observerChild, registryServerSource, taskPoolSource } from '@trellis/observer';
import { registryChild } from '@trellis/registry';

// README.md, "A supervision tree in 30 lines".
export async function readmeTree(): Promise<void> {
  const Counter = defineServer({
    init: (_ctx, start: number) => start,
    handleCall: (req: 'inc' | 'crash', _from, n: number) => {
      if (req === 'crash') throw new Error('crashed on purpose');
      return reply(n + 1, n + 1);
    },
  });
  const app = await start({
    flags: { strategy: 'one_for_one', intensity: 5, periodMs: 10_000 },
    children: [
      { id: 'counter', start: serverChild(Counter, { name: 'counter' }), args: [0] },
      { id: 'hasher', start: threadChild(new URL('./hasher.js', import.meta.url)), shutdown: 2000 },
    ],
  });
  console.log(await call('counter', 'inc'));
  await app.stop();
}

// docs/guide-worker-actor.md: a handleCall whose branches reply with different types (issue 18:
// the reply type was inferred from the first branch, so this failed with TS2322).
export const Inventory = defineServer({
  init: () => new Map<string, number>(),
  handleCall: (
    req: { op: 'get'; item: string } | { op: 'names' } | { op: 'ping' },
    _from,
    s: Map<string, number>,
  ) => {
    if (req.op === 'get') return reply(s.get(req.item) ?? 0, s);
    if (req.op === 'names') return reply([...s.keys()], s);
    return noreply(s);
  },
});

// An explicit reply type still constrains every branch.
export const Typed = defineServer<number, [], 'get', string>({
  init: () => 0,
  // @ts-expect-error: replies with a number where the declared reply type is string
  handleCall: (_req, _from, n) => reply(n, n),
});

// docs/observer.md, "Sources": a ToolPool is a pool source as it is (issue 18: TS2322 on PoolStats).
export async function observerWithToolPool(): Promise<void> {
  const pool = new ToolPool({ name: 'fuzzy', tools: 'tools.py', size: 2 });
  await start({
    flags: { strategy: 'one_for_one' },
    children: [
      observerChild({
        registry: registryServerSource('registry'),
        pools: { fuzzy: pool, images: taskPoolSource('images') },
      }),
      registryChild({ name: 'registry' }),
      pool.childSpec(),
      {
        id: 'pool',
        start: taskPoolChild({ filename: new URL('./resize.js', import.meta.url), name: 'images' }),
      },
    ],
  });
}

// docs/use-in-your-project.md: a pool whose Python env Trellis provisions.
export async function provisionedPool(): Promise<void> {
  const pool = new ToolPool({
    name: 'fuzzy',
    tools: new URL('./tools.py', import.meta.url).pathname,
    size: 2,
    python: { requirements: ['rapidfuzz>=3'], version: '3.11' },
  });
  const app = await start(
    { flags: { strategy: 'one_for_one' }, children: [pool.childSpec()] },
    { exitProcess: false },
  );
  const best = await pool.call<{ match: string; score: number }>('best_match', {
    query: 'appel',
    choices: ['apple'],
  });
  console.log(best.match, best.score);
  await app.stop();
}
