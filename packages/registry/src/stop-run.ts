/**
 * The orderly stop of one run: every recorded child's process group gets SIGTERM, the grace period,
 * SIGKILL; the records are removed; `/proc` confirms each process is gone. Processes that carry the
 * run's id without a record (a spawn caught between reserve and activate, a descendant that left its
 * group) are stopped too.
 */
import type { Clock } from '@trellis/core';
import { REGISTRY_DEFAULTS } from './defaults.js';
import type { RegistryLogger } from './logger.js';
import { snapshotProcesses } from './proc-scan.js';
import { type StopReport, type SweptProcess, summarize } from './report.js';
import type { RegistryStore } from './store.js';
import { KillPlan, runIdOf } from './sweep.js';
import { isPresent, terminate } from './terminate.js';

export interface StopRunContext {
  readonly store: RegistryStore;
  readonly runId: string;
  readonly graceMs: number;
  readonly clock: Clock;
  readonly logger: RegistryLogger;
}

export async function stopRun(ctx: StopRunContext): Promise<StopReport> {
  const started = performance.now();
  const acc = {
    killed: [] as SweptProcess[],
    forced: [] as SweptProcess[],
    droppedDead: [] as SweptProcess[],
    droppedReused: [] as SweptProcess[],
    survivors: [] as SweptProcess[],
  };
  // Bounded rounds: a round catches children activated while the previous one was waiting.
  for (let round = 0; round < REGISTRY_DEFAULTS.stopRounds; round++) {
    ctx.store.refresh();
    const children = ctx.store.listChildren(ctx.runId);
    const snap = snapshotProcesses(true);
    const plan = new KillPlan();
    plan.addChildren(children, snap);
    plan.addMarked(snap.marked.filter((m) => runIdOf(m) === ctx.runId));
    if (children.length === 0 && plan.targets.length === 0) break;
    const result = await terminate(plan.targets, {
      graceMs: ctx.graceMs,
      killTimeoutMs: REGISTRY_DEFAULTS.killTimeoutMs,
      pollMs: REGISTRY_DEFAULTS.pollMs,
      clock: ctx.clock,
    });
    // A survivor keeps its record, so the sweep after this process exits tries again.
    const keep = new Set(result.survivors.map((t) => t.subject.reservationId));
    ctx.store.removeMany(children.map((c) => c.reservationId).filter((id) => !keep.has(id)));
    acc.killed.push(...plan.targets.map((t) => t.subject));
    acc.forced.push(...result.forced.map((t) => t.subject));
    // Reservations without a PID are cancelled: their activate() now fails and kills its child.
    acc.droppedDead.push(...plan.droppedDead, ...plan.reservations);
    acc.droppedReused.push(...plan.droppedReused);
    // Confirmation: one more look at /proc for anything of the targets still present.
    const after = snapshotProcesses(false);
    acc.survivors = result.survivors.filter((t) => isPresent(t, after)).map((t) => t.subject);
    if (acc.survivors.length > 0) break;
  }
  const report: StopReport = { ...acc, durationMs: performance.now() - started };
  if (report.killed.length + report.droppedDead.length + report.droppedReused.length > 0) {
    const line = `trellis registry stopAll: ${summarize(report)}`;
    const data = { report: report as unknown as Record<string, unknown> };
    if (report.survivors.length > 0) ctx.logger.warn(line, data);
    else ctx.logger.info(line, data);
  }
  return report;
}
