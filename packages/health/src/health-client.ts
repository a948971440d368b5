/**
 * Talking to a health monitor from any thread: directly when it lives in this thread, else by a
 * call to its name or pid (names resolve from every thread, as core's do; failures come back as data
 * and are rethrown as TrellisErrors).
 */
import { call, deserializeError, type Pid } from '@trellis/core';
import { HEALTH_DEFAULTS } from './defaults.js';
import { HealthMonitorNotFoundError } from './errors.js';
import type { ChildStats } from './health-events.js';
import { findHealthMonitor } from './health-monitor.js';
import type { HealthRecord } from './health-records.js';
import type { HealthReply, HealthRequest } from './health-server.js';
import type { ActorHealthOptions } from './health-state.js';

/** Sends one request to a monitor (by name or pid, from any thread) and unwraps the answer. */
export async function healthRequest<T = unknown>(monitor: Pid | string, request: HealthRequest): Promise<T> {
  let r: HealthReply;
  try {
    r = await call<HealthReply>(monitor, request);
  } catch (e) {
    if (
      (e as { code?: string }).code === 'ERR_NOPROC' ||
      (e as { reason?: { type?: string } }).reason?.type === 'noproc'
    ) {
      throw new HealthMonitorNotFoundError(String(monitor));
    }
    throw e;
  }
  if (!r.ok) throw deserializeError(r.error);
  return r.value as T;
}

/**
 * Starts monitoring `pid` with the monitor `monitor` (default: the one named `trellis-health`, in
 * any thread): directly when the monitor lives in this thread, else with a call.
 */
export async function monitorActor(
  pid: Pid,
  options: ActorHealthOptions = {},
  monitor: Pid | string = HEALTH_DEFAULTS.name,
): Promise<HealthRecord> {
  const local = findHealthMonitor(monitor);
  if (local !== undefined) return local.register(pid, options);
  return healthRequest<HealthRecord>(monitor, { op: 'register', pid, options });
}

/** Every record of a monitor (live view, not LMDB). */
export async function healthRecords(monitor: Pid | string = HEALTH_DEFAULTS.name): Promise<HealthRecord[]> {
  const local = findHealthMonitor(monitor);
  if (local !== undefined) return local.list();
  return healthRequest<HealthRecord[]>(monitor, { op: 'list' });
}

/** Restarts and last exit reason per supervised child, as the monitor saw them in supervisor events. */
export async function childStats(monitor: Pid | string = HEALTH_DEFAULTS.name): Promise<ChildStats[]> {
  const local = findHealthMonitor(monitor);
  if (local !== undefined) return local.children();
  return healthRequest<ChildStats[]>(monitor, { op: 'children' });
}
