/**
 * The pool's lifecycle on the logger, by default: a worker that dies unexpectedly is a warning, a
 * crash (taint) an error, a restart, a recycle and a quarantine are logged as they happen, an
 * orderly stop only at debug. Before, none of this printed anything unless the app subscribed to
 * the pool's events.
 *
 * It also keeps each slot's history (restarts, the last exit and why), which `stats().workers`
 * and the observer's worker rows show.
 */
import type { PoolEvent } from '../pool/events.js';
import type { WorkerLogs } from './worker-log.js';

export interface SlotHistory {
  /** Processes started in this slot to replace one that exited (recycles not counted). */
  restarts: number;
  /** Recycles in this slot. */
  recycles: number;
  /** Why the last process of this slot ended, e.g. `exited with code 1` or `recycled: ttl`. */
  lastExit: string | undefined;
  lastExitAt: number | undefined;
}

export class PoolLifecycle {
  readonly slots = new Map<number, SlotHistory>();
  readonly #logs: WorkerLogs;

  constructor(logs: WorkerLogs) {
    this.#logs = logs;
  }

  slot(n: number): SlotHistory {
    let h = this.slots.get(n);
    if (h === undefined) {
      h = { restarts: 0, recycles: 0, lastExit: undefined, lastExitAt: undefined };
      this.slots.set(n, h);
    }
    return h;
  }

  onEvent(e: PoolEvent): void {
    const log = this.#logs;
    switch (e.type) {
      case 'worker_exited': {
        const how =
          e.signal !== null
            ? `killed by ${e.signal}`
            : e.exitCode !== null
              ? `exited with code ${e.exitCode}`
              : 'stopped';
        const h = this.slot(e.slot);
        const orderly =
          e.reason.type === 'shutdown' || e.reason.type === 'normal' || e.reason.type === 'recycled';
        h.lastExit = orderly ? e.reason.message : `${how}: ${e.reason.code ?? e.reason.message}`;
        h.lastExitAt = e.at;
        log.pool(orderly ? 'debug' : 'warn', `worker ${e.slot} (pid ${e.pid}) ${orderly ? 'stopped' : how}`, {
          worker: e.slot,
          workerPid: e.pid,
          exitCode: e.exitCode,
          signal: e.signal,
          reason: e.reason.message,
          code: e.reason.code,
        });
        return;
      }
      case 'worker_ready':
        if (e.restart) {
          this.slot(e.slot).restarts++;
          log.pool('info', `worker ${e.slot} restarted as pid ${e.pid} (${e.startMs} ms to ready)`, {
            worker: e.slot,
            workerPid: e.pid,
            startMs: e.startMs,
          });
        } else {
          this.slot(e.slot);
          log.pool('debug', `worker ${e.slot} ready as pid ${e.pid}`, { worker: e.slot, workerPid: e.pid });
        }
        return;
      case 'worker_recycled':
        this.slot(e.slot).recycles++;
        log.pool(
          'info',
          `worker ${e.slot} recycled (${e.reason}: ${e.detail}); pid ${e.newPid} replaces ${e.pid}`,
          {
            worker: e.slot,
            workerPid: e.newPid,
            oldPid: e.pid,
            reason: e.reason,
          },
        );
        return;
      case 'worker_tainted':
        log.pool(
          'error',
          `worker ${e.slot} (pid ${e.pid}) crashed${e.tools.length ? ` running ${e.tools.join(', ')}` : ''}`,
          {
            worker: e.slot,
            workerPid: e.pid,
            exitCode: e.exitCode,
            signal: e.signal,
            tools: e.tools,
          },
        );
        return;
      case 'worker_start_failed':
        log.pool('error', `worker ${e.slot} could not start: ${e.message}`, { worker: e.slot, code: e.code });
        return;
      case 'tool_quarantined':
        log.pool('warn', `tool ${e.tool} quarantined for ${e.cooldownMs} ms after ${e.crashes} crashes`, {
          tool: e.tool,
        });
        return;
      case 'circuit_changed':
        log.pool(e.state === 'open' ? 'warn' : 'info', `circuit breaker ${e.state}`, { state: e.state });
        return;
      case 'pool_started':
        log.pool('info', `pool started with ${e.size} workers in ${e.startMs} ms`, { size: e.size });
        return;
      case 'pool_stopped':
        log.pool('info', `pool stopped: ${e.reason}`, {});
        return;
      // Per call, per session, the process spawn (its readiness is what counts): not logged here.
      case 'worker_started':
      case 'call_started':
      case 'call_finished':
      case 'call_failed':
      case 'call_retried':
      case 'session_ended':
      case 'queue_full':
        return;
      default: {
        // Every event type is decided above: a new one fails to compile until it is.
        const unhandled: never = e;
        void unhandled;
      }
    }
  }
}
