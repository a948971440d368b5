/**
 * The pools' selector: the default least-loaded choice for the load, and a strict choice of one
 * worker for the harness's own calls (leak, probes, fuzz checks), which carry the session id
 * `pid:<pid>`. A targeted call waits for a slot on its worker and fails with ERR_CHAOS_TARGET_GONE
 * when that worker is no longer ready; it is never sent elsewhere.
 */
import { leastLoaded, type WorkerSelector } from '@trellis/grpc-bridge';
import { ChaosTargetGoneError } from './errors.js';

const PREFIX = 'pid:';

export function targetSession(pid: number): string {
  return `${PREFIX}${pid}`;
}

export function targetingSelector(pool: string): WorkerSelector {
  const base = leastLoaded();
  return (workers, req) => {
    const s = req.sessionId;
    if (s === undefined || !s.startsWith(PREFIX)) return base(workers, req);
    const pid = Number(s.slice(PREFIX.length));
    const w = workers.find((x) => x.pid === pid);
    if (w === undefined) throw new ChaosTargetGoneError(pool, pid);
    return w.inFlight < w.capacity ? w : undefined;
  };
}
