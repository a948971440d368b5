/**
 * What a bench figure is held to, as data rather than free text (issue 16, bench hygiene): so that
 * a "no" in `pnpm bench` means a regression and never a slow or loaded machine, every target is a
 * ratio to a baseline measured in the same run, a bound set by configuration (a TTL, a renew
 * interval), a count that must be 0, or a diagnostic with no bound. There is no kind for an absolute
 * time or rate: one cannot be written down.
 *
 * Each package's bench/targets.ts lists its figures' targets in one catalog (`targets`), which
 * core's test/bench-targets.test.ts loads and checks with `targetProblems`; the root runner
 * (scripts/bench.mjs) renders and judges every row with `describeTarget` and `judgeTarget`. The other
 * packages import the type from here (type-only, so no runtime path between packages).
 */

import { match } from 'ts-pattern';

export type Target =
  /**
   * value / the row's same-run baseline, held to `bound`. `baseline` names that baseline (the row's
   * baselineName); `note` is shown beside the bound in the table.
   */
  | {
      readonly kind: 'ratio';
      readonly op: '<=' | '>=';
      readonly bound: number;
      readonly baseline: string;
      readonly note?: string;
    }
  /** A bound set by the protocol's configuration (a TTL, a renew interval), not by the machine's speed. */
  | { readonly kind: 'protocol'; readonly bound: string; readonly reason: string }
  /** A count (failed calls, overlaps) that must be 0. */
  | { readonly kind: 'zero'; readonly note?: string }
  /** No bound: a figure shown to explain the others (a design not chosen, a baseline's own cost). */
  | { readonly kind: 'diagnostic'; readonly reason: string; readonly baseline?: string };

/** The target as the table shows it. */
export function describeTarget(t: Target): string {
  return match(t)
    .with({ kind: 'ratio' }, (r) => `ratio ${r.op} ${r.bound}${r.note ? ` (${r.note})` : ''}`)
    .with({ kind: 'protocol' }, (p) => `${p.bound} (protocol bound: ${p.reason})`)
    .with({ kind: 'zero' }, (z) => `0${z.note ? ` (${z.note})` : ''}`)
    .with({ kind: 'diagnostic' }, (d) => `none (diagnostic: ${d.reason})`)
    .exhaustive();
}

/**
 * Whether a row meets its target, from the row's own figures. A protocol bound is judged by the
 * suite (it knows the configured values), so `suitePass` decides it; for the other kinds a suite's
 * `pass`, when given, is a further condition (e.g. the recycle figure also needs >= 90 recycles).
 */
export function judgeTarget(
  t: Target,
  row: { readonly value: number; readonly ratio?: number | undefined },
  suitePass: boolean | undefined,
): boolean {
  // A figure that was not measured (a skipped or failed suite) meets nothing, not even a diagnostic.
  if (!Number.isFinite(row.value)) return false;
  const extra = suitePass ?? true;
  return match(t)
    .with({ kind: 'ratio' }, (r) => {
      if (row.ratio === undefined || !Number.isFinite(row.ratio)) return false;
      return extra && (r.op === '<=' ? row.ratio <= r.bound : row.ratio >= r.bound);
    })
    .with({ kind: 'zero' }, () => extra && row.value === 0)
    .with({ kind: 'protocol' }, () => suitePass === true)
    .with({ kind: 'diagnostic' }, () => true)
    .exhaustive();
}

const text = (x: unknown): boolean => typeof x === 'string' && x.trim().length > 0;

/**
 * What is wrong with a catalog entry, as sentences (empty when it is a valid target). Checked at
 * run time too, since the catalogs of packages other than core are only typed, not built, here.
 */
export function targetProblems(t: unknown): string[] {
  if (typeof t !== 'object' || t === null) return ['is not a target object (free text is not a target)'];
  const x = t as Record<string, unknown>;
  switch (x.kind) {
    case 'ratio': {
      const out: string[] = [];
      if (x.op !== '<=' && x.op !== '>=') out.push(`ratio op must be '<=' or '>=', not ${String(x.op)}`);
      if (typeof x.bound !== 'number' || !Number.isFinite(x.bound) || x.bound <= 0)
        out.push('ratio bound must be a finite number > 0');
      if (!text(x.baseline)) out.push('a ratio needs the name of its same-run baseline');
      return out;
    }
    case 'protocol':
      return [
        ...(text(x.bound)
          ? []
          : ['a protocol bound must say what it is (e.g. "<= TTL + one renew interval")']),
        ...(text(x.reason) ? [] : ['a protocol bound needs a reason string']),
      ];
    case 'zero':
      return [];
    case 'diagnostic':
      return text(x.reason) ? [] : ['a diagnostic needs a reason string'];
    default:
      return [
        `kind ${JSON.stringify(x.kind)} is not one of ratio, protocol, zero, diagnostic: an absolute target is not allowed`,
      ];
  }
}
