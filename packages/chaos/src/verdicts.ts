/**
 * The driver's own checks, as pure functions of what the runs reported: host memory flat, the
 * sweep after kill -9 reaped every orphan, the lease moved on with a higher epoch, and the soak's
 * leak rule. Each returns a CheckResult for the report.
 */
import type { SweepReport } from '@trellis/registry';
import { CHAOS_DEFAULTS } from './defaults.js';
import type { CheckResult, Termination } from './ipc.js';
import type { FoundProcess } from './orphans.js';
import type { ResourceSample } from './sampler.js';
import { type Fit, linearFit, MB, median } from './stats.js';

export interface RssVerdict {
  readonly check: CheckResult;
  readonly startMb: number | undefined;
  readonly endMb: number | undefined;
  readonly boundMb: number | undefined;
}

/** Samples after warm-up below which host RSS is not judged (a start and an end window of two). */
export const RSS_MIN_SAMPLES = 4;

/**
 * Host RSS after warm-up: the median over the first `windowMs` after `warmupMs` is the start, the
 * median over the last `windowMs` the end; end <= start * factor + plusMb.
 */
export function rssFlat(
  samples: readonly ResourceSample[],
  readyAtMs: number,
  bound = CHAOS_DEFAULTS.rssBound,
): RssVerdict {
  const after = samples.filter((s) => s.tMs >= readyAtMs + bound.warmupMs);
  if (after.length < RSS_MIN_SAMPLES) {
    // Not a verdict on memory: a start and an end window need a few samples each, and run B (which
    // starts after the host kill) can be too short for them after its warm-up (a 30 s run whose kill
    // lands late). Failing here failed the run on arithmetic; CI's 45 s runs always have enough.
    return {
      check: {
        name: 'host RSS flat',
        ok: true,
        skipped: true,
        detail: `not enough samples: ${after.length} after the ${bound.warmupMs / 1000} s warm-up, it needs ${RSS_MIN_SAMPLES} (run longer, or with a seed whose host kill comes earlier)`,
      },
      startMb: undefined,
      endMb: undefined,
      boundMb: undefined,
    };
  }
  const t0 = after[0]!.tMs;
  const tEnd = after[after.length - 1]!.tMs;
  const first = after.filter((s) => s.tMs <= t0 + bound.windowMs).map((s) => s.hostRssBytes / MB);
  const last = after.filter((s) => s.tMs >= tEnd - bound.windowMs).map((s) => s.hostRssBytes / MB);
  const startMb = median(first)!;
  const endMb = median(last)!;
  const boundMb = startMb * bound.factor + bound.plusMb;
  return {
    check: {
      name: 'host RSS flat',
      ok: endMb <= boundMb,
      detail: `${startMb.toFixed(0)} MB after warm-up -> ${endMb.toFixed(0)} MB at the end (bound ${boundMb.toFixed(0)} MB = start x ${bound.factor} + ${bound.plusMb} MB)`,
    },
    startMb,
    endMb,
    boundMb,
  };
}

/**
 * Every orphan the host kill left (counted once A's workers had exited) is gone after B's boot
 * sweep, and the sweep's report accounts for it: its pid is in `killed`, or it belonged to a
 * process group the sweep killed (a group is signalled as a whole and reported by its leader).
 */
export function sweepReapedOrphans(
  orphans: readonly FoundProcess[],
  sweep: SweepReport | undefined,
  leftAfter: readonly FoundProcess[],
): CheckResult {
  const killed = new Set((sweep?.killed ?? []).map((k) => k.pid));
  const groups = new Set((sweep?.killed ?? []).flatMap((k) => (k.pgid === undefined ? [] : [k.pgid])));
  const byGroup = orphans.filter((o) => !killed.has(o.pid) && o.pgid !== undefined && groups.has(o.pgid));
  const missed = orphans.filter((o) => !killed.has(o.pid) && !(o.pgid !== undefined && groups.has(o.pgid)));
  const alive = new Set(leftAfter.map((p) => `${p.pid}/${p.startTime}`));
  const survivors = orphans.filter((o) => alive.has(`${o.pid}/${o.startTime}`));
  const ok =
    orphans.length > 0 &&
    missed.length === 0 &&
    survivors.length === 0 &&
    leftAfter.length === 0 &&
    (sweep?.survivors.length ?? 0) === 0;
  const forced = sweep?.forced.length ?? 0;
  return {
    name: 'kill -9, then the fresh start sweeps',
    ok,
    detail:
      `${orphans.length} orphans of the killed host (${orphans.map((o) => `${o.pid} ${o.how}`).join(', ') || 'none'}); ` +
      `the sweep killed ${killed.size} entries (${forced} needed SIGKILL)` +
      (byGroup.length ? ` and ${byGroup.length} more with their process group` : '') +
      `, dropped ${sweep?.droppedDead.length ?? 0} records of workers that had exited` +
      (missed.length ? `; NOT accounted for by the sweep: ${missed.map((m) => m.pid).join(', ')}` : '') +
      (leftAfter.length
        ? `; still alive after the sweep: ${leftAfter.map((m) => `${m.pid} ${m.cmd}`).join(', ')}`
        : '') +
      (orphans.length === 0
        ? '; no orphan to sweep: the fault did not leave any (the helper tools never ran?)'
        : ''),
  };
}

/** The fresh host leads with a higher epoch than the killed one (fencing moved on). */
export function leaseMovedOn(epochsA: readonly number[], epochsB: readonly number[]): CheckResult {
  const a = epochsA.length > 0 ? Math.max(...epochsA) : undefined;
  const b = epochsB.length > 0 ? Math.min(...epochsB) : undefined;
  const ok = b !== undefined && (a === undefined || b > a);
  return {
    name: 'lease epoch grows across the kill',
    ok,
    detail: `killed host led with epoch ${a ?? 'none'}, fresh host with ${b ?? 'none'}`,
  };
}

export interface SeriesTrend {
  readonly name: string;
  readonly unit: string;
  readonly first: number | undefined;
  readonly last: number | undefined;
  /** Units per minute over the second half. */
  readonly slopePerMin: number | undefined;
  /** slope x the second half's length: what the trend added over it. */
  readonly riseOverHalf: number | undefined;
  readonly limitPerMin: number;
  readonly limitRise: number;
  readonly leak: boolean;
}

/**
 * The soak's leak rule for one series: least-squares slope over the SECOND half of the samples
 * (after the start-up growth), a leak when both the slope and the rise it implies over that half
 * exceed their limits (the rise keeps a steep but tiny wiggle from counting).
 */
export function trend(
  name: string,
  unit: string,
  points: readonly { tMs: number; v: number | undefined }[],
  limitPerMin: number,
  limitRise: number,
): SeriesTrend {
  const pts = points.filter(
    (p): p is { tMs: number; v: number } => p.v !== undefined && Number.isFinite(p.v),
  );
  const half = pts.slice(Math.floor(pts.length / 2));
  const fit: Fit | undefined = linearFit(
    half.map((p) => p.tMs / 60_000),
    half.map((p) => p.v),
  );
  const span = half.length > 1 ? (half[half.length - 1]!.tMs - half[0]!.tMs) / 60_000 : 0;
  const slope = fit?.slope;
  const rise = slope === undefined ? undefined : slope * span;
  return {
    name,
    unit,
    first: pts[0]?.v,
    last: pts[pts.length - 1]?.v,
    slopePerMin: slope,
    riseOverHalf: rise,
    limitPerMin,
    limitRise,
    leak: slope !== undefined && rise !== undefined && slope > limitPerMin && rise > limitRise,
  };
}

/** The final orderly stop ended every child with `shutdown` (a `killed` means its terminate overran). */
export function cleanStop(
  terminations: readonly Termination[] | undefined,
  stopMs: number | undefined,
): CheckResult {
  const list = terminations ?? [];
  const bad = list.filter((t) => t.reason !== 'shutdown' && t.reason !== 'normal');
  return {
    name: 'orderly stop is clean',
    ok: terminations !== undefined && list.length > 0 && bad.length === 0,
    detail:
      terminations === undefined
        ? 'no report of the stop'
        : `${list.length} children stopped in ${Math.round(stopMs ?? -1)} ms` +
          (bad.length
            ? `; not with shutdown: ${bad.map((t) => `${t.id} ${t.reason}`).join(', ')}`
            : ', every one with shutdown'),
  };
}
