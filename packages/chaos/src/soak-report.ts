/** The soak's report: its JSON shape, the per-minute table and the docs section. */
import type { CheckResult } from './ipc.js';
import type { MatchResult } from './matcher.js';
import { type CallSummary, checksTable, type RunStamp, reproduce } from './report.js';
import type { ResourceSample } from './sampler.js';
import { MB, median } from './stats.js';
import type { SeriesTrend } from './verdicts.js';

export interface SoakMinute {
  readonly minute: number;
  readonly throughput: number | undefined;
  readonly p99Ms: number | undefined;
  readonly hostRssMb: number | undefined;
  readonly hostFds: number | undefined;
  /** Sum over the workers (5 of them). */
  readonly workersRssMb: number | undefined;
  readonly workersFds: number | undefined;
  readonly load1: number | undefined;
}

export interface SoakReport extends RunStamp {
  readonly kind: 'soak';
  readonly ok: boolean;
  readonly sampleMs: number;
  readonly calls: CallSummary;
  readonly trends: readonly SeriesTrend[];
  readonly minutes: readonly SoakMinute[];
  readonly samples: readonly ResourceSample[];
  readonly matching: MatchResult;
  readonly log: string;
  readonly checks: readonly CheckResult[];
}

/** Medians per minute of run time (the first minute includes start-up). */
export function soakMinutes(samples: readonly ResourceSample[]): SoakMinute[] {
  const byMinute = new Map<number, ResourceSample[]>();
  for (const s of samples) {
    const m = Math.floor(s.tMs / 60_000);
    const list = byMinute.get(m);
    if (list) list.push(s);
    else byMinute.set(m, [s]);
  }
  const sum = (xs: readonly (number | undefined)[]) =>
    xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, b) => a + b!, 0);
  return [...byMinute.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([minute, list]) => ({
      minute,
      throughput: median(list.map((s) => s.throughput)),
      p99Ms: median(list.flatMap((s) => (s.p99Ms === undefined ? [] : [s.p99Ms]))),
      hostRssMb: median(list.map((s) => s.hostRssBytes / MB)),
      hostFds: median(list.flatMap((s) => (s.hostFds === undefined ? [] : [s.hostFds]))),
      workersRssMb: median(
        list.flatMap((s) => {
          const v = sum(s.workers.map((w) => w.rssBytes));
          return v === undefined ? [] : [v / MB];
        }),
      ),
      load1: median(list.map((s) => s.load1)),
      workersFds: median(
        list.flatMap((s) => {
          const v = sum(s.workers.map((w) => w.fds));
          return v === undefined ? [] : [v];
        }),
      ),
    }));
}

const f = (n: number | undefined, d = 0) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));

export function renderSoak(r: SoakReport): string {
  const c = r.calls;
  return [
    `Last run: ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, **${r.ok ? 'PASSED' : 'FAILED'}**, ` +
      `${r.durationMs / 60_000} min without faults, a sample every ${r.sampleMs / 1000} s, ${r.machine.cpus} cores, ` +
      `load average ${r.machine.loadavgStart.map((x) => x.toFixed(1)).join(' / ')} at the start and ` +
      `${r.machine.loadavgEnd.map((x) => x.toFixed(1)).join(' / ')} at the end (shared box), Node ${r.machine.node}.`,
    ...reproduce(r.replay),
    `Calls: ${c.made} made, ${c.succeeded} succeeded, ${c.failedClean} failed${c.failedClean ? ` ${JSON.stringify(c.failedByCode)}` : ''}, ${c.lost} lost.`,
    '',
    '**Over time** (medians per minute; minute 0 includes start-up; workers: the sum over the 5 Python workers)',
    '',
    '| minute | calls/s | p99 ms | host RSS MB | host fds | workers RSS MB | workers fds | load avg (1 min) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.minutes.map(
      (m) =>
        `| ${m.minute} | ${f(m.throughput)} | ${f(m.p99Ms, 1)} | ${f(m.hostRssMb)} | ${f(m.hostFds)} | ${f(m.workersRssMb)} | ${f(m.workersFds)} | ${f(m.load1, 1)} |`,
    ),
    '',
    '**Drift** (least-squares slope over the second half; a leak needs both the slope and the rise over limits)',
    '',
    '| series | first | last | slope / min | rise over 2nd half | limits | verdict |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- |',
    ...r.trends.map(
      (t) =>
        `| ${t.name} | ${f(t.first, 1)} | ${f(t.last, 1)} | ${f(t.slopePerMin, 2)} ${t.unit} | ${f(t.riseOverHalf, 1)} ${t.unit} | ${t.limitPerMin} ${t.unit}/min and ${t.limitRise} ${t.unit} | ${t.leak ? '**LEAK**' : 'flat'} |`,
    ),
    '',
    ...checksTable(r.checks),
  ].join('\n');
}
