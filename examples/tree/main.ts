/**
 * `pnpm example:tree`: a small supervision tree.
 *
 *   app (one_for_one)
 *   ├── flaky   an in-thread gen_server that crashes on purpose every few ticks
 *   ├── hasher  a gen_server in its own worker thread
 *   └── primes  a TaskPool (piscina) for stateless CPU work
 *
 * A driver loop calls all three for a few seconds, the supervisor restarts `flaky` each time it
 * crashes (printed as it happens), then the tree is stopped in order. Ctrl-C stops it early, cleanly.
 */
import {
  call,
  currentNode,
  defineServer,
  eventBus,
  formatReason,
  register,
  reply,
  runTask,
  serverChild,
  start,
  taskPoolChild,
  threadChild,
  whereis,
  whichChildren,
} from '@trellis/core';

const TICKS = Number(process.env.TREE_TICKS ?? 12);

const Flaky = defineServer({
  init: (_ctx, crashEvery: number) => ({ n: 0, crashEvery }),
  handleCall: (_req: 'tick', _from, s: { n: number; crashEvery: number }) => {
    const n = s.n + 1;
    if (n % s.crashEvery === 0) throw new Error(`flaky crashed on purpose at tick ${n}`);
    return reply(n, { ...s, n });
  },
});

const t0 = Date.now();
const stamp = () => `[${String(Date.now() - t0).padStart(5)} ms]`;

// Restarts as they happen, from the supervisors' structured events.
eventBus(currentNode()).on((e) => {
  if (e.type === 'child_exited') console.log(`${stamp()} ${e.id} exited: ${formatReason(e.reason)}`);
  if (e.type === 'child_restarted') {
    console.log(`${stamp()} ${e.id} restarted as ${e.pid} (restart #${e.restarts})`);
    // Names are per thread: the main thread's name for the thread actor is re-pointed at the new pid.
    if (e.id === 'hasher') register('hasher', e.pid);
  }
  if (e.type === 'child_terminated') console.log(`${stamp()} ${e.id} stopped: ${formatReason(e.reason)}`);
  if (e.type === 'intensity_reached')
    console.log(`${stamp()} restart intensity reached: supervisor gives up`);
});

const app = await start({
  flags: { strategy: 'one_for_one', intensity: 10, periodMs: 10_000 },
  children: [
    { id: 'flaky', start: serverChild(Flaky, { name: 'flaky' }), args: [3], shutdown: 1000 },
    { id: 'hasher', start: threadChild(new URL('./hasher.js', import.meta.url)), shutdown: 2000 },
    {
      id: 'primes',
      start: taskPoolChild({
        filename: new URL('./task.js', import.meta.url),
        name: 'primes',
        maxThreads: 2,
      }),
    },
  ],
});
// Names are per thread; give the thread actor a name in the main thread too.
const hasher = (await whichChildren(app.pid)).find((c) => c.id === 'hasher')?.pid;
if (typeof hasher === 'string' && hasher !== 'restarting') register('hasher', hasher);
console.log(`${stamp()} tree started (top supervisor ${app.pid}); Ctrl-C stops it`);

for (let tick = 1; tick <= TICKS; tick++) {
  const flaky = await call<number>('flaky', 'tick').then(
    (n) => `flaky=${n}`,
    (e) => `flaky failed (${e.code})`,
  );
  if (tick === TICKS >> 1) {
    // Crash the thread actor once: the exception inside its thread becomes its exit reason.
    await call('hasher', 'crash').catch((e) => console.log(`${stamp()} hasher call failed: ${e.code}`));
    while (whereis('hasher') === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  const hash = await call<{ digest: string; thread: number }>('hasher', `tick ${tick}`);
  const primes = await runTask<number>('primes', 20_000 + tick * 1000, { timeoutMs: 5000 });
  console.log(
    `${stamp()} tick ${String(tick).padStart(2)}: ${flaky}, hasher(thread ${hash.thread})=${hash.digest}, primes=${primes}`,
  );
  await new Promise((r) => setTimeout(r, 150));
}

console.log(`${stamp()} done; stopping the tree in reverse start order`);
await app.stop(); // exits the process with code 0 once every child has stopped
