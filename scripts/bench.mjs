#!/usr/bin/env node
// `pnpm bench [scope ...]`: the single benchmark runner.
//
// Scopes are packages: core, registry, bridge, health, cluster. Each package's compiled bench/index.js exports
// either `suites` (name -> async () => BenchResult[]) or `run()`. Every suite runs in a fresh node
// process, one after another, so no suite's heap or JIT state skews another's figures.
//
// Output: JSON on stdout (all results), bench-results/<scope>.json, and the table in docs/benchmarks.md
// (figures of scopes not run this time are kept from the previous file). `--no-docs` leaves
// docs/benchmarks.md alone (runs that investigate a figure rather than record it).
//
// A row's target is data (packages/core/bench/target.ts: a ratio to its same-run baseline, a
// protocol bound, a count that must be 0, or a diagnostic); this runner renders it as text and
// judges the row from its figures, so no suite states a bound twice.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const SCOPES = {
  core: 'core',
  registry: 'registry',
  bridge: 'grpc-bridge',
  health: 'health',
  cluster: 'cluster',
};
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// `--suites=a,b`: run only these suites of the scopes named; their other figures are kept from the
// previous docs/benchmarks.md (e.g. `pnpm bench bridge --suites=lane,payload`).
const onlySuites = process.argv
  .find((a) => a.startsWith('--suites='))
  ?.slice('--suites='.length)
  .split(',')
  .filter(Boolean);
const scopes = wanted.length ? wanted : Object.keys(SCOPES);
const noDocs = process.argv.includes('--no-docs');
for (const s of scopes) {
  if (!SCOPES[s]) {
    console.error(`unknown bench scope "${s}"; use one of: ${Object.keys(SCOPES).join(', ')}`);
    process.exit(2);
  }
}

// Benchmarks start processes that carry the run marker (trellis-test-marker, --trellis-run-id=), as
// tests do. Tagged with a runner id of their own, a `pnpm test` running meanwhile (another checkout,
// another engineer on the same box) does not count them as processes its tests left behind
// (scripts/test.mjs skips a marked process that carries another runner's id).
process.env.TRELLIS_TEST_RUNNER ??= `bench-${randomUUID()}`;

const child = process.env.TRELLIS_BENCH_CHILD;
if (child) {
  // Child mode: run one suite and print its results as the last line.
  const [file, suite] = child.split('#');
  const mod = await import(pathToFileURL(file).href);
  const fn = suite === 'run' ? mod.run : mod.suites[suite];
  const results = await fn();
  process.stdout.write(`\n@@RESULTS@@${JSON.stringify(results)}\n`);
  process.exit(0);
}

const { describeTarget, judgeTarget } = await import(
  pathToFileURL(join(root, 'packages', 'core', 'dist', 'bench', 'target.js')).href
);

/**
 * A suite's row with its target rendered as text and its pass judged from the target. A text target
 * is read back only in the form a ratio entry renders to ("ratio <= 1.15 (note)"; the payload suite
 * still writes that text); any other text is not a target, and the row does not meet it.
 */
function judged(scope, suite, x) {
  let target = x.target;
  const text = typeof target === 'string' && /^ratio (<=|>=) (\d+(?:\.\d+)?)(?: \((.*)\))?$/.exec(target);
  if (text)
    target = {
      kind: 'ratio',
      op: text[1],
      bound: Number(text[2]),
      baseline: x.baselineName ?? '',
      note: text[3],
    };
  if (typeof target !== 'object' || target === null)
    return { scope, suite, ...x, target: `${x.target} (not a target object)`, pass: false };
  const { pass, ...rest } = x;
  return { scope, suite, ...rest, target: describeTarget(target), pass: judgeTarget(target, x, pass) };
}

const all = [];
mkdirSync(join(root, 'bench-results'), { recursive: true });
for (const scope of scopes) {
  const file = join(root, 'packages', SCOPES[scope], 'dist', 'bench', 'index.js');
  if (!existsSync(file)) {
    console.error(`[bench] ${scope}: no ${file}; skipped`);
    continue;
  }
  const mod = await import(pathToFileURL(file).href);
  const suites = (mod.suites ? Object.keys(mod.suites) : ['run']).filter(
    (s) => onlySuites === undefined || onlySuites.includes(s),
  );
  const scopeResults = [];
  for (const suite of suites) {
    console.error(`[bench] ${scope}/${suite} ...`);
    const r = spawnSync(process.execPath, [import.meta.filename], {
      cwd: root,
      env: { ...process.env, TRELLIS_BENCH_CHILD: `${file}#${suite}` },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60 * 1000,
    });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('@@RESULTS@@'));
    if (r.status !== 0 || !line) {
      console.error(`[bench] ${scope}/${suite} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
      scopeResults.push({
        scope,
        name: `${suite} (suite failed)`,
        value: Number.NaN,
        unit: '',
        target: 'runs',
        pass: false,
      });
      continue;
    }
    for (const x of JSON.parse(line.slice('@@RESULTS@@'.length))) scopeResults.push(judged(scope, suite, x));
  }
  writeFileSync(join(root, 'bench-results', `${scope}.json`), `${JSON.stringify(scopeResults, null, 2)}\n`);
  all.push(...scopeResults);
}

console.log(JSON.stringify(all, null, 2));
if (!noDocs) writeTable(all);
const failed = all.filter((x) => !x.pass);
console.error(
  `[bench] ${all.length} figures, ${all.length - failed.length} meet their target, ${failed.length} do not`,
);

function fmt(v) {
  if (typeof v !== 'number' || Number.isNaN(v)) return 'n/a';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toPrecision(3);
}

function writeTable(results) {
  const path = join(root, 'docs', 'benchmarks.md');
  const byScope = new Map();
  // Hand-written notes between the notes markers (before/after comparisons, what a figure means)
  // are kept as they are.
  let notes = '';
  // Keep the previous figures of scopes that were not run this time.
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    notes = text.match(/<!-- notes:start -->[\s\S]*<!-- notes:end -->/)?.[0] ?? '';
    const prev = text.match(/<!-- results:(.*) -->/);
    if (prev)
      for (const x of JSON.parse(prev[1]))
        if (!scopes.includes(x.scope) || (onlySuites !== undefined && !onlySuites.includes(x.suite)))
          (byScope.get(x.scope) ?? byScope.set(x.scope, []).get(x.scope)).push(x);
  }
  for (const x of results) (byScope.get(x.scope) ?? byScope.set(x.scope, []).get(x.scope)).push(x);
  const kept = [...byScope.values()].flat();
  const lines = [
    '# Benchmarks',
    '',
    'Produced by `pnpm bench` (or `pnpm bench core registry bridge health` for some scopes); do not edit by hand.',
    'Every figure is the median of several rounds, next to a raw baseline measured in the same run, on the',
    `machine below. The machine is small and noisy: compare ratios, not absolute numbers.`,
    '',
    `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| scope | figure | value | baseline | ratio | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const x of kept) {
    lines.push(
      `| ${x.scope} | ${x.name} | ${fmt(x.value)} ${x.unit ?? ''} | ${x.baseline === undefined ? '' : `${fmt(x.baseline)} (${x.baselineName ?? 'raw'})`} | ${x.ratio === undefined ? '' : `${x.ratio.toFixed(2)}x`} | ${x.target} | ${x.pass ? 'yes' : '**no**'} |`,
    );
  }
  if (notes) lines.push('', notes);
  lines.push('', `<!-- results:${JSON.stringify(kept.map(({ samples, ...rest }) => rest))} -->`, '');
  writeFileSync(path, lines.join('\n'));
}
