/**
 * Restart counts and last exit reasons per (supervisor, child id), for every child of every
 * supervisor of the monitor's thread, from the core's supervisor events.
 */
import { formatReason, type Pid, type SupervisorEvent } from '@trellis/core';
import { HEALTH_DEFAULTS } from './defaults.js';
import type { ChildStats } from './health-events.js';

/** An exit a supervisor reported (child_exited / child_terminated). */
export interface ReportedExit {
  readonly supervisor: Pid;
  readonly id: string;
  readonly pid: Pid;
  readonly reason: string;
}

export class ChildStatsTable {
  readonly #stats = new Map<string, ChildStats>();

  /** Applies one event; returns the exit it reports, if it reports one. */
  apply(e: SupervisorEvent): ReportedExit | undefined {
    if (e.type === 'supervisor_shutdown') {
      // Its children are gone with it; a supervisor restarted later has a new pid, hence new entries.
      for (const [k, c] of this.#stats) if (c.supervisor === e.supervisor) this.#stats.delete(k);
      return undefined;
    }
    if (!('id' in e)) return undefined;
    const k = `${e.supervisor}/${e.id}`;
    const prev = this.#stats.get(k);
    const base: ChildStats = prev ?? {
      supervisor: e.supervisor,
      supervisorName: e.supervisorName ?? null,
      id: e.id,
      pid: null,
      restarts: 0,
      startedAt: null,
      lastExitReason: null,
      lastExitAt: null,
    };
    let next: ChildStats;
    let exit: ReportedExit | undefined;
    switch (e.type) {
      case 'child_started':
        next = { ...base, pid: e.pid, startedAt: e.at };
        break;
      case 'child_restarted':
        next = { ...base, pid: e.pid, startedAt: e.at, restarts: e.restarts };
        break;
      case 'child_exited':
      case 'child_terminated': {
        const reason = formatReason(e.reason);
        next = { ...base, pid: null, lastExitReason: reason, lastExitAt: e.at };
        exit = { supervisor: e.supervisor, id: e.id, pid: e.pid, reason };
        break;
      }
      case 'child_start_failed':
        next = {
          ...base,
          pid: null,
          lastExitReason: `start failed: ${formatReason(e.reason)}`,
          lastExitAt: e.at,
        };
        break;
      default:
        return undefined;
    }
    if (prev === undefined && this.#stats.size >= HEALTH_DEFAULTS.maxChildStats) {
      // Bounded: drop the oldest entry (a Map keeps insertion order).
      const oldest = this.#stats.keys().next().value;
      if (oldest !== undefined) this.#stats.delete(oldest);
    }
    this.#stats.set(k, next);
    return exit;
  }

  list(): ChildStats[] {
    return [...this.#stats.values()];
  }
}
