/**
 * `pnpm soak [--duration 10m] [--seed N] [--sample 5s] [--json path] [--no-docs]`
 *
 * The chaos tree under the same steady load, with no faults, for a long time (10 minutes by
 * default). The system under test samples, every `--sample`: throughput and p99 latency of the
 * window, RSS and open fds of the host process and of every Python worker. A leak fails the soak:
 * for each series, the least-squares slope over the SECOND half of the run (after start-up growth)
 * and the rise it implies over that half must not both exceed their limits (CHAOS_DEFAULTS.soakLeak).
 * Without faults, any exit of a supervised process, any lost call and any failed call fail it too.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHAOS_DEFAULTS } from './defaults.js';
import { type CheckResult, type SutConfig, verdictWord } from './ipc.js';
import { matchFaults } from './matcher.js';
import { formatDuration } from './options.js';
import { DescendantTracker, findOrphans, killProcesses } from './orphans.js';
import { type HarnessRun, resolveOut, runHarness, summarizeCalls, updateDocs, writeJson } from './report.js';
import { renderSoak, type SoakReport, soakMinutes } from './soak-report.js';
import { MB } from './stats.js';
import { SutProcess } from './sut-process.js';
import { cleanStop, type SeriesTrend, trend } from './verdicts.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tracker = new DescendantTracker(process.pid);
let sut: SutProcess | undefined;

async function main({ o, root, stamp }: HarnessRun): Promise<number> {
  console.log(
    `soak: ${formatDuration(o.durationMs)} without faults, sampling every ${formatDuration(o.sampleMs)}; replay with: ${o.replay}`,
  );
  const home = mkdtempSync(join(tmpdir(), 'trellis-soak-'));
  const logDir = join(root, 'bench-results', 'chaos-logs');
  mkdirSync(logDir, { recursive: true });
  tracker.start(1000);
  const cfg: SutConfig = {
    run: 'soak',
    seed: o.seed,
    originEpochMs: Date.now(),
    durationMs: o.durationMs,
    loadEndMs: o.durationMs,
    faults: false,
    hostKillAtMs: undefined,
    callers: o.callers,
    sampleMs: o.sampleMs,
    reportMs: 1000,
  };
  sut = new SutProcess(cfg, home, join(logDir, 'soak.log'));
  const ready = await sut.waitReady(60_000);
  if (ready === undefined) throw new Error(`the soak host never became ready (log: ${sut.logPath})`);
  console.log(`soak: host pid ${sut.pid} ready in ${(ready.startMs / 1000).toFixed(1)} s`);
  const progress = setInterval(() => {
    const s = sut?.samples[sut.samples.length - 1];
    if (s)
      console.log(
        `soak: ${(s.tMs / 1000).toFixed(0)} s  ${s.throughput.toFixed(0)} calls/s  p99 ${s.p99Ms?.toFixed(1) ?? '-'} ms  host RSS ${(s.hostRssBytes / MB).toFixed(0)} MB  fds ${s.hostFds}`,
      );
  }, 60_000);
  progress.unref();
  const exit = await Promise.race([sut.exited, sleep(o.durationMs + 5 * 60_000).then(() => undefined)]);
  clearInterval(progress);
  if (exit === undefined) {
    sut.child.kill('SIGKILL');
    await sut.exited;
  }
  const checks: CheckResult[] = [];
  checks.push({
    name: 'soak host finished',
    ok: exit?.code === 0 && sut.final !== undefined,
    detail:
      exit === undefined
        ? 'did not finish in time; killed'
        : `exit ${exit.code ?? exit.signal}, orderly stop in ${Math.round(sut.stopMs ?? -1)} ms`,
  });
  checks.push(...(sut.final?.checks ?? []));
  checks.push(cleanStop(sut.terminations, sut.stopMs));
  const calls = summarizeCalls(undefined, sut.ledger);
  checks.push({
    name: 'no failed call without faults',
    ok: calls.failedClean === 0 && calls.made > 0,
    detail: `${calls.made} calls, ${calls.succeeded} succeeded, ${calls.failedClean} failed ${JSON.stringify(calls.failedByCode)}`,
  });
  const match = matchFaults({
    faults: [],
    exits: sut.exits,
    restarts: sut.restarts,
    recycles: sut.recycles,
    windowEnd: { soak: Number.POSITIVE_INFINITY },
  });
  checks.push({
    name: 'no exit without faults',
    ok: sut.exits.length === 0 && sut.restarts.length === 0 && sut.recycles.length === 0,
    detail:
      sut.exits.length + sut.restarts.length + sut.recycles.length === 0
        ? 'no supervised process exited, was restarted or recycled'
        : [
            ...sut.exits.map((e) => `exit ${e.group} ${e.target} ${e.code}`),
            ...sut.recycles.map((r) => `recycle ${r.group} ${r.target} ${r.reason}`),
          ].join('; '),
  });

  // ---- leak rule ----
  const L = CHAOS_DEFAULTS.soakLeak;
  const samples = sut.samples;
  const trends: SeriesTrend[] = [
    trend(
      'host RSS',
      'MB',
      samples.map((s) => ({ tMs: s.tMs, v: s.hostRssBytes / MB })),
      L.hostRssMbPerMin,
      L.hostRssRiseMb,
    ),
    trend(
      'host open fds',
      'fds',
      samples.map((s) => ({ tMs: s.tMs, v: s.hostFds })),
      L.fdPerMin,
      L.fdRise,
    ),
  ];
  const labels = [...new Set(samples.flatMap((s) => s.workers.map((w) => w.label)))].sort();
  for (const label of labels) {
    const pts = samples.map((s) => ({ tMs: s.tMs, w: s.workers.find((w) => w.label === label) }));
    trends.push(
      trend(
        `${label} RSS`,
        'MB',
        pts.map((p) => ({ tMs: p.tMs, v: p.w?.rssBytes === undefined ? undefined : p.w.rssBytes / MB })),
        L.workerRssMbPerMin,
        L.workerRssRiseMb,
      ),
    );
    trends.push(
      trend(
        `${label} open fds`,
        'fds',
        pts.map((p) => ({ tMs: p.tMs, v: p.w?.fds })),
        L.fdPerMin,
        L.fdRise,
      ),
    );
  }
  const leaks = trends.filter((t) => t.leak);
  checks.push({
    name: 'no leak (second-half slope)',
    ok: leaks.length === 0 && samples.length >= 8,
    detail:
      samples.length < 8
        ? `only ${samples.length} samples: run longer`
        : leaks.length === 0
          ? `${trends.length} series (host and ${labels.length} workers: RSS and fds) under their limits`
          : leaks
              .map(
                (t) =>
                  `${t.name}: ${t.slopePerMin?.toFixed(2)} ${t.unit}/min, +${t.riseOverHalf?.toFixed(1)} ${t.unit} over the second half`,
              )
              .join('; '),
  });

  tracker.stop();
  let end = findOrphans({ runIds: [ready.runId], tracker });
  for (let i = 0; i < 20 && end.total > 0; i++) {
    await sleep(100);
    end = findOrphans({ runIds: [ready.runId], tracker });
  }
  checks.push({
    name: 'zero orphans in /proc',
    ok: end.total === 0,
    detail:
      end.total === 0
        ? `none by marker or environment; none of the ${tracker.count} processes seen below the driver`
        : [...end.byMarker, ...end.byDescendant].map((p) => `${p.pid} ${p.cmd}`).join('; '),
  });
  if (end.total > 0) await killProcesses([...end.byMarker, ...end.byDescendant]);

  const report: SoakReport = {
    kind: 'soak',
    ok: checks.every((c) => c.ok),
    ...stamp(),
    sampleMs: o.sampleMs,
    calls,
    trends,
    minutes: soakMinutes(samples),
    samples,
    matching: match,
    log: sut.logPath,
    checks,
  };
  const json = resolveOut(root, o.jsonPath);
  writeJson(json, report);
  console.log(`soak: report written to ${json}`);
  if (o.writeDocs) console.log(`soak: tables written to ${updateDocs(root, 'soak', renderSoak(report))}`);
  rmSync(home, { recursive: true, force: true });
  for (const c of checks) console.log(`${verdictWord(c)}  ${c.name}: ${c.detail}`);
  console.log(`soak: ${report.ok ? 'PASSED' : 'FAILED'}; replay with: ${o.replay}`);
  return report.ok ? 0 : 1;
}

/** What must not outlive the driver if the harness itself fails half-way. */
async function cleanUp(): Promise<void> {
  if (sut && sut.child.exitCode === null && sut.child.signalCode === null) sut.child.kill('SIGKILL');
  if (sut) await sut.exited;
  tracker.stop();
  await killProcesses(tracker.survivors());
}

runHarness(
  'soak',
  'pnpm soak [--duration 10m] [--seed N] [--sample 5s] [--callers N] [--json path] [--no-docs]',
  main,
  cleanUp,
);
