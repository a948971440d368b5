/**
 * `pnpm example:pool`: Python tools called from TypeScript through a supervised pool.
 *
 *   1. starts a supervision tree: the process registry first (it records every OS process the tree
 *      starts and is stopped last), then a ToolPool of 4 Python workers serving ./tools.py;
 *   2. runs a few hundred calls, 64 at a time (CPU-bound, streaming, raw bytes, and some bad
 *      input), with a live progress line;
 *   3. halfway through, kills one worker with SIGKILL: its calls fail at once (or are retried when
 *      idempotent) and the supervisor starts a replacement;
 *   4. prints a summary, stops the tree and checks /proc: no Python process is left.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isProcessAlive, listProcessIds, readProcCmdline, runMarker, start } from '@trellis/core';
import { type PoolEvent, ToolPool } from '@trellis/grpc-bridge';
import { callRegistry, registryChild } from '@trellis/registry';
import { Progress } from './progress.js';

const TOOLS = fileURLToPath(new URL('../../pool/tools.py', import.meta.url));
const CALLS = 400;
const CALLERS = 64;
const WORKERS = 4;

// ---- 1. the tree ---------------------------------------------------------------------------------

const pool = new ToolPool({
  name: 'example',
  tools: TOOLS,
  size: WORKERS,
  // Calls wait in the pool's queue while all workers are busy: allow them a generous wait.
  queueTimeoutMs: 30_000,
});

let progress: Progress | undefined;
const workerPids = new Set<number>();
pool.on((e: PoolEvent) => {
  if (e.type === 'worker_started') workerPids.add(e.pid);
  if (e.type === 'worker_exited' && e.reason.type === 'error') {
    progress?.note(`  worker ${e.pid} exited (${e.signal ?? `code ${e.exitCode}`}): ${e.reason.code}`);
  }
  if (e.type === 'worker_ready' && e.restart)
    progress?.note(`  worker ${e.pid} started in its place in ${Math.round(e.startMs)} ms`);
});

const t0 = performance.now();
const app = await start(
  { flags: { strategy: 'one_for_one' }, children: [registryChild({ name: 'registry' }), pool.childSpec()] },
  { exitProcess: false },
);
const runId = await callRegistry<string>('registry', { op: 'runId' });
const pids = () => pool.stats().workers.map((w) => w.pid);
console.log(
  `tree started in ${ms(performance.now() - t0)}: registry + pool of ${WORKERS} Python workers (pids ${pids().join(', ')})`,
);
console.log(
  `tools: ${pool
    .tools()
    .map((t) => `${t.name}${t.streaming ? ' (stream)' : ''}`)
    .join(', ')}\n`,
);

// ---- 2. a few hundred calls, many at once --------------------------------------------------------------

/** One call of the mix; resolves with true when the result is what it should be. */
async function job(i: number): Promise<boolean> {
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
    case 3: {
      // CPU-bound; the tool is declared idempotent, so a call whose worker dies is retried.
      const n = await pool.call<number>('count_primes', { limit: 10_000 + (i % 7) * 1_000 });
      return n >= 1229;
    }
    case 4:
    case 5: {
      // Raw bytes both ways: a Buffer goes as application/octet-stream, no base64.
      const data = randomBytes(64 * 1024);
      const out = await pool.call<Buffer>('invert', data);
      return out.length === data.length && out[0] === 255 - data[0]!;
    }
    case 6: {
      // A generator tool: items arrive as they are yielded (with backpressure).
      let last = -1;
      for await (const x of pool.stream<number>('fibonacci', { count: 40 })) last = x;
      return last === 63_245_986;
    }
    case 7:
    case 8:
      return (await pool.call<number>('to_celsius', { reading: '71.6F' })) === 22;
    default:
      // Bad input on purpose: a reading the tool rejects (it raises ValueError), or an argument of
      // the wrong type (the worker's schema check refuses it with the field path).
      return i % 20 === 9
        ? pool.call('to_celsius', { reading: 'warm' }).then(() => false)
        : pool.call('to_celsius', { reading: 42 }).then(() => false);
  }
}

progress = new Progress(CALLS);
let done = 0;
let ok = 0;
let killed: number | undefined;
const errors = new Map<string, number>();
const unexpected: unknown[] = [];

const status = (): string => {
  const s = pool.stats();
  const bad = [...errors.values()].reduce((a, b) => a + b, 0);
  return `ok ${ok}  errors ${bad}  in flight ${s.inFlight}  queued ${s.queueDepth}  workers ${s.readyWorkers}/${WORKERS}  restarts ${s.restarts}`;
};

/** Runs call `i` and records how it ended; kills a worker once half the calls are done. */
async function runOne(i: number): Promise<void> {
  try {
    if (await job(i)) ok++;
    else unexpected.push(new Error(`call ${i} (${i % 10}) returned a wrong result`));
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (typeof code === 'string') errors.set(code, (errors.get(code) ?? 0) + 1);
    else unexpected.push(e);
  }
  done++;
  if (done === CALLS / 2) {
    // ---- 3. kill the busiest worker halfway through ---------------------------------------------
    const busiest = [...pool.stats().workers].sort((a, b) => b.inFlight - a.inFlight)[0];
    if (busiest) {
      killed = busiest.pid;
      progress?.note(`  halfway: kill -9 worker ${killed} (${busiest.inFlight} calls running on it)`);
      process.kill(killed, 'SIGKILL');
    }
  }
  progress?.update(done, status());
}

// CALLERS concurrent callers share the CALLS calls: the pool runs 4 per worker at once and queues
// the rest (bounded by maxQueue), so most callers are waiting in the pool's queue at any moment.
const tCalls = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: CALLERS }, async () => {
    while (next < CALLS) await runOne(next++);
  }),
);
progress.end();
const callsMs = performance.now() - tCalls;

// ---- 4. summary, then stop the tree and check /proc ----------------------------------------------

// The replacement worker may still be starting if the kill came late: wait for it (bounded).
for (let i = 0; i < 100 && pool.stats().readyWorkers < WORKERS; i++)
  await new Promise((r) => setTimeout(r, 50));
const s = pool.stats();
const codes = [...errors.entries()].map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
console.log(`
summary
  calls          ${CALLS} in ${ms(callsMs)} (${Math.round((CALLS / callsMs) * 1000)} calls/s)
  succeeded      ${ok}
  clean errors   ${CALLS - ok - unexpected.length} (${codes})
                 expected: 1 call in 10 sends bad input on purpose, a reading the tool rejects
                 (ERR_TOOL_FAILED, Python's ValueError) or an argument of the wrong type
                 (ERR_INVALID_ARGUMENT, refused by the schema check); calls running on the
                 killed worker that are not idempotent fail with ERR_WORKER_EXITED
  retried        ${s.calls.retried} idempotent call(s) moved off the killed worker
  latency        p50 ${ms(s.latencyMs.p50)}, p99 ${ms(s.latencyMs.p99)}
                 includes the wait in the pool's queue: ${CALLERS} callers share ${WORKERS} workers x 4
                 slots, so most calls wait for a slot; the time in Python is a small part of it
  restarts       ${s.restarts}
  workers alive  ${s.readyWorkers}/${WORKERS} (pids ${pids().join(', ')})`);
for (const e of unexpected) console.log(`  UNEXPECTED: ${(e as Error)?.message ?? String(e)}`);

const tStop = performance.now();
const reason = await app.stop();
const marker = runMarker(runId);
const left = listProcessIds().filter((p) => readProcCmdline(p)?.includes(marker) && isProcessAlive(p));
const stillAlive = [...workerPids].filter((p) => isProcessAlive(p));
console.log(
  `\ntree stopped (${reason.type}) in ${ms(performance.now() - tStop)}; Python processes left: ${left.length + stillAlive.length} (checked /proc)`,
);
process.exitCode =
  unexpected.length > 0 || left.length > 0 || stillAlive.length > 0 || killed === undefined ? 1 : 0;

function ms(v: number | undefined): string {
  if (v === undefined) return 'n/a';
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`;
}
