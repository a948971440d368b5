/**
 * The actor side of heartbeats.
 *
 * Call `heartbeat(ctx)` from the actor's own work loop, where it proves that the work goes on. A
 * beat from a separate timer would only prove that the thread's event loop runs, which is not the
 * failure this is for (an actor stuck awaiting something that never comes).
 */
import { type ActorContext, isPid, type Pid } from '@trellis/core';
import { HEALTH_DEFAULTS } from './defaults.js';
import { findHealthMonitor } from './health-monitor.js';
import type { BeatMessage } from './health-server.js';

/**
 * Sends one heartbeat of `ctx.self` to the monitor `monitor`: its registered name (default
 * `trellis-health`), which resolves from every thread as core's names do, or its pid (a thread actor
 * can get it as a start argument, see `monitoredChild`'s `appendMonitorPid`). In the monitor's
 * thread this is a direct update of the actor's slot; from another thread, one small message. Never
 * throws: returns false when no process holds that name (yet: a name registered in another thread
 * reaches this one a moment later) or the actor is exiting (a beat is worth nothing then).
 */
export function heartbeat(ctx: ActorContext, monitor: Pid | string = HEALTH_DEFAULTS.name): boolean {
  const local = findHealthMonitor(monitor, ctx.node);
  if (local !== undefined) {
    local.beat(ctx.self);
    return true;
  }
  const to = isPid(monitor) ? monitor : ctx.node.whereis(monitor);
  if (to === undefined || !ctx.alive) return false;
  ctx.send(to, { type: '$health_beat', pid: ctx.self } satisfies BeatMessage);
  return true;
}
