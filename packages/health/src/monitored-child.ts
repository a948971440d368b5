/**
 * `monitoredChild(spec, health)`: the same child, registered with the health monitor every time its
 * supervisor (re)starts it, under a key that survives restarts (default: the child id), with its
 * supervisor as the escalation target.
 */
import { type ChildSpec, IGNORE, isPid, type Pid, type StartContext } from '@trellis/core';
import { HEALTH_DEFAULTS } from './defaults.js';
import { HealthMonitorNotFoundError, InvalidHealthOptionsError } from './errors.js';
import { healthRequest } from './health-client.js';
import { findHealthMonitor } from './health-monitor.js';
import { type ActorHealthOptions, checkKey, normalizePolicy } from './health-state.js';

export interface MonitoredChildOptions extends Omit<ActorHealthOptions, 'id' | 'supervisor'> {
  /** The monitor: its registered name, in any thread (default `trellis-health`), or its pid. */
  readonly monitor?: Pid | string;
  /**
   * Append the monitor's pid to the child's start arguments (`heartbeat(ctx, monitorPid)`): for a
   * thread actor, a pid reaches the monitor from its first beat, while a name registered in another
   * thread becomes visible there a moment after the thread starts. `heartbeat(ctx)` by name works too.
   */
  readonly appendMonitorPid?: boolean;
}

export function monitoredChild(spec: ChildSpec, health: MonitoredChildOptions = {}): ChildSpec {
  if (typeof spec !== 'object' || spec === null || typeof spec.start !== 'function') {
    throw new InvalidHealthOptionsError(
      'monitoredChild(spec) needs a child spec with a start function, e.g. { id, start: serverChild(b) }',
    );
  }
  checkChildOptions(health);
  const { monitor, appendMonitorPid, ...actorOptions } = health;
  const target = monitor ?? HEALTH_DEFAULTS.name;
  const inner = spec.start;
  return {
    ...spec,
    start: async (ctx: StartContext, ...args: unknown[]) => {
      const local = findHealthMonitor(target, ctx.node);
      // A monitor of another thread: by pid, or by its name (names resolve from every thread).
      const monitorPid = local?.pid ?? (isPid(target) ? target : ctx.node.whereis(target));
      if (monitorPid === undefined) throw new HealthMonitorNotFoundError(`"${target}"`);
      const r = await inner(ctx, ...(appendMonitorPid ? [...args, monitorPid] : args));
      if (r === IGNORE) return r;
      const options: ActorHealthOptions = {
        ...actorOptions,
        key: actorOptions.key ?? ctx.id,
        id: ctx.id,
        supervisor: ctx.parent,
      };
      try {
        const now = findHealthMonitor(target, ctx.node);
        if (now !== undefined) now.register(r, options);
        else await healthRequest(monitorPid, { op: 'register', pid: r, options });
      } catch (e) {
        // The child runs, linked to the supervisor, but the start is failing: do not leave it behind.
        ctx.node.exit(ctx.node.selfPid, r, 'kill');
        throw e;
      }
      return r;
    },
  };
}

function checkChildOptions(h: MonitoredChildOptions): void {
  if (typeof h !== 'object' || h === null)
    throw new InvalidHealthOptionsError('monitoredChild health options must be an object');
  for (const f of ['intervalMs', 'staleAfterMs', 'startupTimeoutMs', 'failAfterMs'] as const) {
    const v = h[f];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
      throw new InvalidHealthOptionsError(
        `${f} is ${JSON.stringify(v)}; it must be a finite number of milliseconds > 0`,
        { field: f },
      );
    }
  }
  if (h.policy !== undefined) normalizePolicy(h.policy);
  if (h.key !== undefined) checkKey(h.key);
  if (h.monitor !== undefined && (typeof h.monitor !== 'string' || h.monitor.length === 0)) {
    throw new InvalidHealthOptionsError("monitor must be the monitor's registered name or its pid");
  }
}
