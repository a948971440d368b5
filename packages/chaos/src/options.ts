/**
 * Command lines of `pnpm chaos` and `pnpm soak`:
 *
 *   pnpm chaos [--duration 120s] [--seed N] [--json path] [--fuzz-scale X] [--no-docs]
 *   pnpm soak  [--duration 10m]  [--seed N] [--json path] [--sample 5s]   [--no-docs]
 *
 * Durations accept `500ms`, `45s`, `2m`, or a bare number of seconds.
 */
import { randomInt } from 'node:crypto';
import { CHAOS_DEFAULTS } from './defaults.js';
import { InvalidChaosOptionsError } from './errors.js';

export interface RunOptions {
  readonly durationMs: number;
  readonly seed: number;
  readonly jsonPath: string;
  readonly writeDocs: boolean;
  readonly fuzzScale: number;
  readonly sampleMs: number;
  readonly callers: number;
  /** The exact command line that reproduces the run (seed included). */
  readonly replay: string;
}

export function parseDuration(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new InvalidChaosOptionsError(
      option,
      `is "${text}", not a duration`,
      'write it like 500ms, 45s, 2m or 1h (a bare number means seconds)',
    );
  }
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function parseOptions(kind: 'chaos' | 'soak', argv: readonly string[]): RunOptions {
  const values = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      throw new InvalidChaosOptionsError(a, 'is not an option', `run pnpm ${kind} --help for the options`);
    }
    const eq = a.indexOf('=');
    if (eq > 0) values.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a === '--no-docs' || a === '--help') values.set(a.slice(2), true);
    else {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--'))
        throw new InvalidChaosOptionsError(a, 'has no value', `write ${a} <value>`);
      values.set(a.slice(2), v);
      i++;
    }
  }
  const known = ['duration', 'seed', 'json', 'fuzz-scale', 'no-docs', 'sample', 'callers', 'help'];
  for (const k of values.keys()) {
    if (!known.includes(k))
      throw new InvalidChaosOptionsError(`--${k}`, 'is unknown', `use one of --${known.join(', --')}`);
  }
  const str = (k: string): string | undefined => {
    const v = values.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  /** A duration flag, or the default of this kind of run. */
  const durationFlag = (flag: string, chaosMs: number, soakMs: number): number => {
    const text = str(flag);
    if (text !== undefined) return parseDuration(`--${flag}`, text);
    return kind === 'chaos' ? chaosMs : soakMs;
  };
  const durationMs = durationFlag('duration', CHAOS_DEFAULTS.chaosDurationMs, CHAOS_DEFAULTS.soakDurationMs);
  if (kind === 'chaos' && durationMs < CHAOS_DEFAULTS.minChaosDurationMs) {
    throw new InvalidChaosOptionsError(
      '--duration',
      `is ${formatDuration(durationMs)}`,
      `give at least ${formatDuration(CHAOS_DEFAULTS.minChaosDurationMs)}: a run needs room for a host kill, a fresh start and a fault tail`,
    );
  }
  const seedText = str('seed');
  let seed: number;
  if (seedText === undefined) seed = randomInt(1, 2 ** 31);
  else {
    seed = Number(seedText);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
      throw new InvalidChaosOptionsError(
        '--seed',
        `is "${seedText}"`,
        'use a whole number from 0 to 4294967295',
      );
  }
  let fuzzScale = durationMs <= 60_000 && kind === 'chaos' ? CHAOS_DEFAULTS.shortRunFuzzScale : 1;
  if (str('fuzz-scale') !== undefined) {
    fuzzScale = Number(str('fuzz-scale'));
    if (!(fuzzScale >= 0 && fuzzScale <= 10))
      throw new InvalidChaosOptionsError(
        '--fuzz-scale',
        `is "${str('fuzz-scale')}"`,
        'use a number from 0 to 10',
      );
  }
  const sampleMs = durationFlag('sample', CHAOS_DEFAULTS.chaosSampleMs, CHAOS_DEFAULTS.soakSampleMs);
  if (sampleMs < 200)
    throw new InvalidChaosOptionsError('--sample', `is ${sampleMs} ms`, 'use at least 200ms');
  const callers = str('callers') !== undefined ? Number(str('callers')) : CHAOS_DEFAULTS.callers;
  if (!Number.isInteger(callers) || callers < 1 || callers > 64)
    throw new InvalidChaosOptionsError(
      '--callers',
      `is "${str('callers')}"`,
      'use a whole number from 1 to 64',
    );
  const jsonPath = str('json') ?? `bench-results/${kind}.json`;
  const writeDocs = values.get('no-docs') !== true;
  const parts = [`pnpm ${kind}`, `--duration ${formatDuration(durationMs)}`, `--seed ${seed}`];
  if (str('fuzz-scale') !== undefined) parts.push(`--fuzz-scale ${fuzzScale}`);
  if (str('sample') !== undefined) parts.push(`--sample ${formatDuration(sampleMs)}`);
  if (str('callers') !== undefined) parts.push(`--callers ${callers}`);
  return { durationMs, seed, jsonPath, writeDocs, fuzzScale, sampleMs, callers, replay: parts.join(' ') };
}

/** The options of this process's command line, or undefined after printing `usage` for `--help`. */
export function commandLine(kind: 'chaos' | 'soak', usage: string): RunOptions | undefined {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(usage);
    return undefined;
  }
  return parseOptions(kind, argv);
}
