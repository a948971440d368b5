/**
 * Deterministic probes run with the fuzz phase: short scenarios with one expected recovery each.
 *
 * stuck tool: a sync tool that ignores cancellation keeps its Python thread after its call's
 * deadline (Python threads cannot be killed; documented). The promise of a supervised pool is that
 * such a worker is not left taking calls it can never run: within `recoverMs` after the stuck
 * call's deadline the pool must serve a batch of calls without failure again (by recycling the
 * worker, or by not sending it calls). Two workers, one Python thread each, one stuck call.
 */
import { TrellisError } from '@trellis/core';
import type { ToolPool } from '@trellis/grpc-bridge';
import { CHAOS_DEFAULTS } from '../defaults.js';
import type { CheckResult } from '../ipc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof TrellisError ? e.code : `not a TrellisError: ${(e as Error)?.message}`;
  }
}

export async function probeStuckTool(
  pool: ToolPool,
  recoverMs: number = CHAOS_DEFAULTS.stuckProbeRecoverMs,
): Promise<CheckResult> {
  const name = 'probe: a stuck tool does not make its worker a black hole';
  const batch = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await code(pool.call('echo', { value: i }, { timeoutMs: 1000 })));
    return out;
  };
  const before = await batch(10);
  if (before.some((c) => c !== 'ok'))
    return { name, ok: false, detail: `the pool did not serve before the probe: ${before.join(',')}` };
  const stuck = await code(pool.call('hang_stuck', { seconds: 3600 }, { timeoutMs: 500 }));
  const t0 = performance.now();
  const batches: string[] = [];
  let recovered = false;
  while (performance.now() - t0 < recoverMs) {
    await sleep(500);
    const b = await batch(10);
    const failed = b.filter((c) => c !== 'ok');
    batches.push(`${failed.length}/10 failed${failed.length ? ` (${[...new Set(failed)].join(',')})` : ''}`);
    if (failed.length === 0) {
      recovered = true;
      break;
    }
  }
  const stats = pool.stats();
  return {
    name,
    ok: stuck === 'ERR_DEADLINE_EXCEEDED' && recovered,
    detail:
      `stuck call ended with ${stuck}; echo batches after it: ${batches.join('; ')}; ` +
      `${recovered ? `recovered after ${Math.round(performance.now() - t0)} ms` : `NOT recovered within ${recoverMs} ms`}; pool restarts ${stats.restarts}, recycles ${stats.recycles}, ` +
      `workers in flight ${stats.workers.map((w) => `${w.pid}:${w.inFlight}`).join(' ')}`,
  };
}
