/**
 * The outputs of a run: the JSON report (bench-results/chaos.json, soak.json) and the generated
 * tables in docs/reliability.md, between `<!-- chaos:begin -->` / `<!-- chaos:end -->` (and the same
 * for `soak`). Everything outside those markers is prose and is never touched.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SweepReport } from '@trellis/registry';
import { CHAOS_DEFAULTS } from './defaults.js';
import type { FaultRecord } from './fault-book.js';
import type { FuzzReport } from './fuzz/phase.js';
import type { CheckResult, LeaderObservation, SutFinal } from './ipc.js';
import type { LedgerSnapshot } from './ledger.js';
import type { MatchResult } from './matcher.js';
import { commandLine, type RunOptions } from './options.js';
import type { FoundProcess } from './orphans.js';
import { FAULT_KINDS, type FaultKind, type Schedule } from './schedule.js';

export interface CallSummary {
  readonly made: number;
  readonly succeeded: number;
  readonly failedClean: number;
  readonly failedByCode: Readonly<Record<string, number>>;
  /** In flight in the killed host at its last report: cut by the kill -9, by design without outcome. */
  readonly interruptedByKill: number;
  /** Hung (no outcome after time-out + slack) or still unsettled at the end of the surviving run. */
  readonly lost: number;
  readonly unclean: number;
  readonly wrong: number;
}

export interface FaultRow {
  readonly kind: FaultKind;
  readonly planned: number;
  readonly injected: number;
  readonly effective: number;
  readonly nonFatal: number;
  readonly absorbedDoomed: number;
  readonly absorbedDead: number;
  readonly noTarget: number;
  readonly unexpected: number;
  /** Sent, but its host was killed before it finished landing. */
  readonly cutByKill: number;
  /** Planned but never fired: the host was down (killed, or starting), or A fired it after its last report. */
  readonly skipped: number;
}

export interface RunSummary {
  readonly run: string;
  readonly runId: string | undefined;
  readonly pid: number;
  readonly startMs: number | undefined;
  readonly readyAtMs: number | undefined;
  readonly killedAtMs: number | undefined;
  readonly lastReportAtMs: number;
  readonly stopMs: number | undefined;
  readonly log: string;
  readonly ledger: LedgerSnapshot | undefined;
  readonly leader: LeaderObservation | undefined;
  readonly final: SutFinal | undefined;
}

export interface ChaosReport extends RunStamp {
  readonly kind: 'chaos';
  readonly ok: boolean;
  readonly hostKillAtMs: number;
  readonly runs: readonly RunSummary[];
  readonly calls: CallSummary;
  readonly faults: readonly FaultRow[];
  readonly faultRecords: readonly FaultRecord[];
  readonly matching: MatchResult;
  readonly sweep: { orphans: readonly FoundProcess[]; report: SweepReport | undefined };
  readonly rss: { startMb: number | undefined; endMb: number | undefined; boundMb: number | undefined };
  readonly orphansAtEnd: { total: number; processes: readonly FoundProcess[]; descendantsSeen: number };
  readonly samplesB: readonly {
    tMs: number;
    rssMb: number;
    throughput: number;
    p99Ms: number | undefined;
    load1: number;
  }[];
  readonly fuzz: FuzzReport;
  readonly checks: readonly CheckResult[];
}

/** What every report (chaos, soak) says of its run the same way: how to replay it, when, on what. */
export interface RunStamp {
  readonly seed: number;
  readonly durationMs: number;
  readonly replay: string;
  readonly startedAt: string;
  readonly wallMs: number;
  readonly machine: { cpus: number; loadavgStart: number[]; loadavgEnd: number[]; node: string };
}

/** A run as its harness gets it: its options, the repository root, and its stamp's clock. */
export interface HarnessRun {
  readonly o: RunOptions;
  readonly root: string;
  readonly stamp: () => RunStamp;
}

/**
 * The entry point of `pnpm chaos` and `pnpm soak`: reads the command line (`--help` prints `usage`
 * and exits 0), runs `main` and exits with its code; when the harness itself fails (a bad option
 * included), logs why, runs `cleanUp` (nothing it started may outlive it) and exits 2.
 */
export function runHarness(
  kind: 'chaos' | 'soak',
  usage: string,
  main: (run: HarnessRun) => Promise<number>,
  cleanUp: () => Promise<void>,
): void {
  const start = async (): Promise<number> => {
    const o = commandLine(kind, usage);
    return o === undefined ? 0 : main({ o, root: repoRoot(), stamp: startStamp(o) });
  };
  start().then(
    (code) => process.exit(code),
    async (e) => {
      console.error(`${kind}: the harness failed: ${(e as Error)?.stack ?? String(e)}`);
      await cleanUp();
      process.exit(2);
    },
  );
}

/** Notes the start of a run; the function it returns stamps its end. */
export function startStamp(o: RunOptions): () => RunStamp {
  const wall0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadavgStart = loadavg();
  return () => ({
    seed: o.seed,
    durationMs: o.durationMs,
    replay: o.replay,
    startedAt,
    wallMs: Math.round(performance.now() - wall0),
    machine: { cpus: availableParallelism(), loadavgStart, loadavgEnd: loadavg(), node: process.version },
  });
}

/** The repository root: the nearest ancestor of this package with pnpm-workspace.yaml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return process.cwd();
}

export function summarizeCalls(
  killed: LedgerSnapshot | undefined,
  survivor: LedgerSnapshot | undefined,
): CallSummary {
  const byCode: Record<string, number> = {};
  for (const l of [killed, survivor]) {
    for (const [code, n] of Object.entries(l?.errors ?? {})) byCode[code] = (byCode[code] ?? 0) + n;
  }
  const sum = (f: (l: LedgerSnapshot) => number) => (killed ? f(killed) : 0) + (survivor ? f(survivor) : 0);
  return {
    made: sum((l) => l.started),
    succeeded: sum((l) => l.ok),
    failedClean: sum((l) => l.failedClean),
    failedByCode: byCode,
    interruptedByKill: killed?.outstanding ?? 0,
    lost: sum((l) => l.hangs) + (survivor?.outstanding ?? 0) + (survivor === undefined ? 1 : 0),
    unclean: sum((l) => l.unclean),
    wrong: sum((l) => l.wrong),
  };
}

export function faultTable(schedule: Schedule, records: readonly FaultRecord[]): FaultRow[] {
  const rows: FaultRow[] = [];
  for (const kind of FAULT_KINDS) {
    const planned = schedule.faults.filter((f) => f.kind === kind).length;
    const rs = records.filter((r) => r.kind === kind);
    const n = (s: string) => rs.filter((r) => r.status === s).length;
    rows.push({
      kind,
      planned,
      injected: rs.length,
      effective: n('effective'),
      nonFatal: n('non-fatal'),
      absorbedDoomed: n('absorbed-doomed'),
      absorbedDead: n('absorbed-dead'),
      noTarget: n('no-target'),
      unexpected: n('unexpected'),
      cutByKill: n('pending'),
      skipped: Math.max(0, planned - rs.length),
    });
  }
  rows.push({
    kind: 'host-kill9',
    planned: 1,
    injected: 1,
    effective: 1,
    nonFatal: 0,
    absorbedDoomed: 0,
    absorbedDead: 0,
    noTarget: 0,
    unexpected: 0,
    cutByKill: 0,
    skipped: 0,
  });
  return rows;
}

export function resolveOut(root: string, p: string): string {
  return isAbsolute(p) ? p : resolve(root, p);
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` (appends the block if absent). */
export function replaceSection(doc: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trimEnd()}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

export function updateDocs(root: string, name: string, body: string): string {
  const path = join(root, 'docs', 'reliability.md');
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Reliability\n';
  writeFileSync(path, replaceSection(doc, name, body));
  return path;
}

const fmt = (n: number | undefined, d = 0) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));

/** The lines that show how to run a report's run again (chaos and soak reports alike). */
export function reproduce(replay: string): string[] {
  return ['', 'Reproduce:', '', '```', replay, '```', ''];
}

export function renderChaos(r: ChaosReport): string {
  const c = r.calls;
  const lines: string[] = [];
  const b = r.runs.find((x) => x.run === 'B');
  lines.push(
    `Last run: ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, **${r.ok ? 'PASSED' : 'FAILED'}**, ` +
      `${r.durationMs / 1000} s of load, ${Math.round(r.wallMs / 1000)} s wall time including the fuzz phase, ` +
      `${r.machine.cpus} cores, load average ${r.machine.loadavgStart.map((x) => x.toFixed(1)).join(' / ')} at the start ` +
      `(other engineers share the box), Node ${r.machine.node}.`,
    ...(r.ok
      ? []
      : [
          '',
          `Failing checks: ${r.checks
            .filter((x) => !x.ok)
            .map((x) => `**${x.name}**`)
            .join(', ')} (see [Bugs the suite found](#bugs-the-suite-found)).`,
        ]),
    ...reproduce(r.replay),
    '**Calls**',
    '',
    '| made | succeeded | failed cleanly | cut by the host kill -9 | lost | not a TrellisError | wrong result |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${c.made} | ${c.succeeded} | ${c.failedClean} | ${c.interruptedByKill} | ${c.lost} | ${c.unclean} | ${c.wrong} |`,
    '',
    '| clean failures by code | calls |',
    '| --- | ---: |',
    ...Object.entries(c.failedByCode)
      .sort((x, y) => y[1] - x[1])
      .map(([code, n]) => `| \`${code}\` | ${n} |`),
    '',
    '**Faults injected**',
    '',
    '| fault | planned | injected | effective | non-fatal as designed | on a doomed target | on a gone target | no target | landing cut by the kill | skipped (host down) | unexpected |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.faults.map(
      (f) =>
        `| ${f.kind} | ${f.planned} | ${f.injected} | ${f.effective} | ${f.nonFatal} | ${f.absorbedDoomed} | ${f.absorbedDead} | ${f.noTarget} | ${f.cutByKill} | ${f.skipped} | ${f.unexpected} |`,
    ),
    '',
    '**Exits and restarts by group** (run A was killed; B is the fresh start)',
    '',
    '| run / group | effective fatal faults | targets | exits | restarts | recycles (leak) | unexplained exits | missing exits | verdict |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...r.matching.groups.map(
      (g) =>
        `| ${g.run} / ${g.group} | ${g.effectiveFaults} | ${g.targets} | ${g.exits} | ${g.restarts} | ${g.recycles} | ${g.unexplained.length} | ${g.missing.length}${g.cut ? ` (+${g.cut} cut by the kill)` : ''} | ${g.ok ? 'ok' : 'FAIL'} |`,
    ),
    '',
    `**Host kill -9 and sweep**: ${r.sweep.orphans.length} orphans left by the killed host ` +
      `(${r.sweep.orphans.map((o) => `\`${o.cmd.split(' ')[0]}\``).join(', ') || 'none'}); the fresh start's sweep killed ` +
      `${r.sweep.report?.killed.length ?? 0} (${r.sweep.report?.forced.length ?? 0} needed SIGKILL) and dropped ` +
      `${r.sweep.report?.droppedDead.length ?? 0} records of workers that had exited on their own.`,
    '',
    `**Orphans at the end**: ${r.orphansAtEnd.total} (checked by run marker and TRELLIS_RUN_ID in /proc, and against all ${r.orphansAtEnd.descendantsSeen} processes ever seen below the driver).`,
    '',
    `**Host RSS** (run B, after ${CHAOS_DEFAULTS.rssBound.warmupMs / 1000} s warm-up): ${fmt(r.rss.startMb)} MB -> ${fmt(r.rss.endMb)} MB, bound ${fmt(r.rss.boundMb)} MB.` +
      (b?.final
        ? ` Registry at the end: ${b.final.registry.records} records = ${b.final.registry.live} live workers = ${b.final.registry.marked} marked processes.`
        : ''),
    '',
    '**Inputs fuzzed**',
    '',
    '| kind | inputs | clean | not clean | the target still served afterwards |',
    '| --- | ---: | ---: | ---: | --- |',
    ...r.fuzz.kinds.map(
      (k) =>
        `| ${k.kind} | ${k.inputs} | ${k.clean} | ${k.unclean} | ${k.servedAfter ? 'yes, after every input' : 'NO'} |`,
    ),
    '',
    ...(r.fuzz.probes.length
      ? [
          '| probe | verdict | detail |',
          '| --- | --- | --- |',
          ...r.fuzz.probes.map(
            (p) => `| ${p.name} | ${p.ok ? 'ok' : 'FAIL'} | ${p.detail.replaceAll('|', '/')} |`,
          ),
          '',
        ]
      : []),
    ...checksTable(r.checks),
  );
  return lines.join('\n');
}

export function writeChaosOutputs(r: ChaosReport, o: RunOptions, root: string): void {
  const json = resolveOut(root, o.jsonPath);
  writeJson(json, r);
  console.log(`chaos: report written to ${json}`);
  if (o.writeDocs) console.log(`chaos: tables written to ${updateDocs(root, 'chaos', renderChaos(r))}`);
}

/** The **Checks** table of a chaos or soak report. */
export function checksTable(checks: readonly CheckResult[]): string[] {
  return [
    '**Checks**',
    '',
    '| check | verdict | detail |',
    '| --- | --- | --- |',
    ...checks.map(
      (x) =>
        `| ${x.name} | ${x.skipped ? 'skipped' : x.ok ? 'pass' : '**FAIL**'} | ${x.detail.replaceAll('|', '/').slice(0, 400)} |`,
    ),
  ];
}
