/**
 * What a supervisor does when a child exits, after supervisor.erl's `do_restart` → `restart`: from
 * the EXIT (`onExit`) through the restart policy, the restart intensity or the child's backoff, the
 * strategy (one_for_one, one_for_all, rest_for_one), to a failed restart retried from the loop.
 * Ending the supervisor is a throw of StopSupervisor, which the loop (supervisor.ts) catches.
 */
import { Exit, type ExitReason, isCleanExit } from '../exit-reason.js';
import type { ExitMessage } from '../process.js';
import { type Child, type SupState, shutdownChild, startChildProcess, terminateAll } from './children.js';

/** Thrown inside the loop to end the supervisor after its children were stopped. */
export class StopSupervisor {
  constructor(readonly reason: ExitReason) {}
}

export interface RetryMessage {
  readonly type: '$sup_retry';
  readonly key: string;
  /** 'backoff': a scheduled delayed restart; 'retry': a restart whose start failed (counts toward intensity). */
  readonly kind: 'backoff' | 'retry';
}

export async function onExit(st: SupState, m: ExitMessage): Promise<void> {
  if (st.parent !== undefined && m.from === st.parent) {
    await terminateAll(st);
    throw new StopSupervisor(m.reason);
  }
  const child = st.byPid.get(m.from);
  if (child === undefined) return; // a child we already stopped, or a start that failed after linking
  st.byPid.delete(m.from);
  child.pid = undefined;
  st.emit({ type: 'child_exited', id: child.key, pid: m.from, reason: m.reason });
  const restart =
    child.spec.restart === 'permanent' || (child.spec.restart === 'transient' && !isCleanExit(m.reason));
  if (!restart) {
    if (child.spec.restart === 'temporary' || child.dynamic) st.remove(child);
    if (child.spec.significant) await checkAutoShutdown(st);
    return;
  }
  await scheduleRestart(st, child);
}

async function checkAutoShutdown(st: SupState): Promise<void> {
  const mode = st.flags.autoShutdown;
  if (mode === 'never') return;
  if (mode === 'all_significant') {
    for (const c of st.children.values()) if (c.spec.significant && c.pid !== undefined) return;
  }
  await terminateAll(st);
  throw new StopSupervisor(Exit.shutdown());
}

async function scheduleRestart(st: SupState, child: Child): Promise<void> {
  const ctx = st.ctx;
  if (child.backoff) return scheduleBackoff(st, child, ctx.clock.now() - child.startedAt);
  if (!st.intensity.add(ctx.clock.now())) await reachedMaxIntensity(st);
  await restartByStrategy(st, child);
}

/**
 * Backoff children are governed by their own maxRetries instead of the supervisor's intensity: the
 * point of backoff is to keep retrying, slowly, for longer than an intensity window. `upMs` is how
 * long the child ran; a run of resetAfterMs resets the count of consecutive restarts.
 */
async function scheduleBackoff(st: SupState, child: Child, upMs: number): Promise<void> {
  const ctx = st.ctx;
  const backoff = child.backoff!;
  const delay = backoff.nextDelay(upMs, st.random);
  if (backoff.exhausted()) {
    st.emit({ type: 'intensity_reached', intensity: backoff.opts.maxRetries, periodMs: 0 });
    await terminateAll(st);
    throw new StopSupervisor(Exit.shutdown({ reachedMaxRetries: child.key }));
  }
  child.pid = 'restarting';
  st.emit({ type: 'child_restart_scheduled', id: child.key, delayMs: delay, attempt: backoff.attempts });
  const t = ctx.clock.setTimeout(() => {
    st.timers.delete(t);
    if (ctx.alive)
      ctx.send(ctx.self, { type: '$sup_retry', key: child.key, kind: 'backoff' } satisfies RetryMessage);
  }, delay);
  st.timers.add(t);
}

/**
 * Too many restarts: stop every child and exit with plain `shutdown`, as supervisor.erl does. The
 * `intensity_reached` event is the report (OTP's reached_max_restart_intensity supervisor report); the
 * exit reason stays `shutdown` so a parent treats it like any orderly stop of a supervisor child.
 */
async function reachedMaxIntensity(st: SupState): Promise<never> {
  st.emit({ type: 'intensity_reached', intensity: st.flags.intensity, periodMs: st.flags.periodMs });
  await terminateAll(st);
  throw new StopSupervisor(Exit.shutdown());
}

export async function onRetry(st: SupState, m: RetryMessage): Promise<void> {
  const child = st.children.get(m.key);
  if (child === undefined || child.pid !== 'restarting') return;
  if (m.kind === 'retry' && !st.intensity.add(st.ctx.clock.now())) await reachedMaxIntensity(st);
  await restartByStrategy(st, child);
}

async function restartByStrategy(st: SupState, child: Child): Promise<void> {
  switch (st.flags.strategy) {
    case 'one_for_one':
    case 'simple_one_for_one':
      return restartOneForOne(st, child);
    case 'one_for_all':
      return restartGroup(st, child, st.ordered());
    case 'rest_for_one': {
      const all = st.ordered();
      return restartGroup(st, child, all.slice(all.indexOf(child)));
    }
  }
}

/** one_for_one: only the dead child is restarted. */
async function restartOneForOne(st: SupState, child: Child): Promise<void> {
  const r = await startChildProcess(st, child, true);
  if (r !== true) await restartFailed(st, child);
}

/**
 * one_for_all (group = every child) and rest_for_one (group = the dead child and those after it):
 * stop the rest of the group in reverse start order, then start the whole group in start order.
 * Temporary children stopped this way are not restarted and their specs are removed (OTP).
 */
async function restartGroup(st: SupState, dead: Child, group: Child[]): Promise<void> {
  for (const c of [...group].reverse()) {
    if (c === dead) continue;
    if (typeof c.pid === 'string' && c.pid !== 'restarting') await shutdownChild(st, c);
    if (c.spec.restart === 'temporary') st.remove(c);
  }
  for (const c of group) {
    if (!st.children.has(c.key)) continue;
    const r = await startChildProcess(st, c, true);
    if (r !== true) {
      await restartFailed(st, c);
      return;
    }
  }
}

/**
 * A restart whose start failed: mark the child restarting and retry from the loop, so requests that
 * arrived meanwhile are served first, and the retry counts toward the intensity (OTP statement 13).
 * A backoff child instead waits for its next, longer delay: its start failing is one more consecutive
 * failure, and retrying at once would burn through the intensity that backoff exists to avoid.
 */
async function restartFailed(st: SupState, child: Child): Promise<void> {
  if (child.backoff) {
    await scheduleBackoff(st, child, 0);
    return;
  }
  child.pid = 'restarting';
  st.ctx.send(st.self, { type: '$sup_retry', key: child.key, kind: 'retry' } satisfies RetryMessage);
}
