/**
 * The driver's side of the fuzz phase: runs fuzz-main.js as a child process (its Python workers are
 * its own, recorded in its own registry run) and turns its report into checks:
 *   - per kind: every planned input tried, every one answered cleanly, the target served after each;
 *   - no worker exited during the fuzz (bad input must never cost a worker);
 *   - each probe's verdict.
 */
import { fork } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { CheckResult } from '../ipc.js';
import type { FuzzKindResult } from './tally.js';

export interface FuzzConfig {
  readonly seed: number;
  readonly scale: number;
  readonly home: string;
}

export interface FuzzExit {
  readonly pool: string;
  readonly pid: number;
  readonly code: string;
  readonly during: string;
}

/** What the fuzz child found: each kind's tally, the probes' verdicts, the workers that exited, its time. */
export interface FuzzFindings {
  readonly kinds: readonly FuzzKindResult[];
  readonly probes: readonly CheckResult[];
  readonly exits: readonly FuzzExit[];
  readonly ms: number;
}

/** The child's one message: its findings and the registry run its workers belonged to. */
export interface FuzzChildMessage extends FuzzFindings {
  readonly t: 'fuzz';
  readonly runId: string;
}

/** The findings as the report keeps them, with the checks the driver made of them. */
export interface FuzzReport extends FuzzFindings {
  readonly runId: string | undefined;
  readonly scale: number;
  readonly log: string;
  readonly checks: readonly CheckResult[];
}

/** A child that never reported found nothing. */
const NO_FINDINGS: FuzzFindings = { kinds: [], probes: [], exits: [], ms: 0 };

const ENTRY = new URL('./fuzz-main.js', import.meta.url);

export async function runFuzzPhase(o: FuzzConfig & { logPath: string; maxMs?: number }): Promise<FuzzReport> {
  const log = openSync(o.logPath, 'w');
  const cfg: FuzzConfig = { seed: o.seed, scale: o.scale, home: o.home };
  const child = fork(ENTRY, [], {
    env: { ...process.env, TRELLIS_HOME: o.home, TRELLIS_CHAOS_FUZZ: JSON.stringify(cfg) },
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  let msg: FuzzChildMessage | undefined;
  child.on('message', (m: FuzzChildMessage) => {
    if (m?.t === 'fuzz') msg = m;
  });
  const maxMs = o.maxMs ?? 15 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    new Promise<{ code: number | null; signal: string | null }>((r) =>
      child.once('exit', (code, signal) => r({ code, signal })),
    ),
    new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), maxMs);
    }),
  ]);
  clearTimeout(timer);
  if (exit === undefined) {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  if (msg === undefined) {
    const how =
      exit === undefined
        ? `did not finish within ${maxMs} ms`
        : `exited (${exit.code ?? exit.signal}) without a report`;
    return {
      ...NO_FINDINGS,
      runId: undefined,
      scale: o.scale,
      log: o.logPath,
      checks: [{ name: 'fuzz phase', ok: false, detail: `the fuzz process ${how}; see ${o.logPath}` }],
    };
  }
  const checks: CheckResult[] = msg.kinds.map((k) => ({
    name: `fuzz: ${k.kind}`,
    ok: k.unclean === 0 && k.servedAfter && k.inputs === k.planned,
    detail:
      `${k.inputs}/${k.planned} inputs, ${k.clean} clean, ${k.unclean} not; outcomes ${JSON.stringify(k.outcomes)}` +
      (k.examples.length ? `; e.g. ${k.examples.slice(0, 3).join(' | ')}` : ''),
  }));
  // The stuck-tool probe's pool may legitimately recycle its worker: only the fuzzed pools count.
  const died = msg.exits.filter((e) => e.pool !== 'fuzz-stuck');
  checks.push({
    name: 'fuzz: no worker died',
    ok: died.length === 0,
    detail:
      died.length === 0
        ? 'no fuzzed Python worker exited during the fuzz'
        : died.map((e) => `${e.pool} ${e.pid} ${e.code} during ${e.during}`).join('; '),
  });
  checks.push(...msg.probes);
  return {
    runId: msg.runId,
    scale: o.scale,
    ms: msg.ms,
    log: o.logPath,
    kinds: msg.kinds,
    probes: msg.probes,
    exits: msg.exits,
    checks,
  };
}
