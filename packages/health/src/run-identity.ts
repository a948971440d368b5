/**
 * Run identity for health records, shared with the registry: a run id names the process that wrote
 * (`<created>-<home>-<hostPid>-<hostStart>-<nonce>`, see @trellis/home run-id.ts) and a run is
 * alive exactly when a process with that PID AND start time exists on this boot (the registry's
 * `judgeRun`), so a reused PID never keeps a dead run "alive".
 */
import { createRunId, type HostIdentity, homeTagFor, judgeRun, type RunVerdict } from '@trellis/home';
import type { HealthRunRecord } from './health-records.js';
import { hostInfo } from './host.js';

const runIds = new Map<string, string>();

/**
 * The run id of the monitor named `name` writing in `dir`, the same for the whole life of this
 * process: a monitor restarted by its supervisor continues its predecessor's run and adopts its
 * records, instead of leaving them behind as a run that looks alive and never changes.
 */
export function processRunId(dir: string, name: string): string {
  const k = `${dir}\0${name}`;
  let id = runIds.get(k);
  if (id === undefined) {
    const h = hostInfo();
    id = createRunId(homeTagFor(dir), { pid: h.pid, startTime: h.startTime });
    runIds.set(k, id);
  }
  return id;
}

/**
 * Ends this process's run for a monitor that stopped in order: the next monitor of that name and
 * directory in this process (an application started again) begins a new run instead of adopting
 * records of actors that are long gone.
 */
export function endProcessRun(dir: string, name: string): void {
  runIds.delete(`${dir}\0${name}`);
}

/** "Here", as the registry's sweep defines it: records from another boot, host or PID namespace are judged by it. */
export function hereIdentity(dir: string): HostIdentity {
  const h = hostInfo();
  return { bootId: h.bootId, hostname: h.hostname, pidNamespace: h.pidNamespace, homeTag: homeTagFor(dir) };
}

/** alive | dead | rebooted | foreign, for a health run record. */
export function judgeHealthRun(run: HealthRunRecord, here: HostIdentity): RunVerdict {
  return judgeRun(run.runId, run, here);
}
