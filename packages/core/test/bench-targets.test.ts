/**
 * Bench hygiene (issue 16): no bench figure may be held to an absolute time or rate, which a slow or
 * loaded machine fails without any regression. Every package's bench/targets.ts catalog is loaded
 * (from its build output) and each target must be a ratio naming its same-run baseline, a protocol
 * bound with its reason, a count that must be 0, or a diagnostic with its reason. A target written
 * as text in a bench source must be the text of one of its package's catalog entries.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeTarget, judgeTarget, type Target, targetProblems } from '../bench/target.js';

const PACKAGES = fileURLToPath(new URL('../../../', import.meta.url));

/** Every package with a bench folder: its name, sources and built catalog path. */
function benchPackages(): { name: string; src: string; catalog: string }[] {
  return readdirSync(PACKAGES)
    .filter((p) => existsSync(join(PACKAGES, p, 'bench', 'index.ts')))
    .map((p) => ({
      name: p,
      src: join(PACKAGES, p, 'bench'),
      catalog: join(PACKAGES, p, 'dist', 'bench', 'targets.js'),
    }));
}

async function catalog(path: string): Promise<Record<string, unknown>> {
  const mod = (await import(pathToFileURL(path).href)) as { targets?: Record<string, unknown> };
  assert.ok(mod.targets, `${path} exports no targets catalog`);
  return mod.targets;
}

test('every bench package has a targets catalog, and every target in it has a same-run baseline, a protocol reason, or is a count that must be 0', async () => {
  const pkgs = benchPackages();
  // core, registry, health, grpc-bridge, cluster at least: a bench folder cannot slip out of the check.
  for (const p of ['core', 'registry', 'health', 'grpc-bridge', 'cluster'])
    assert.ok(
      pkgs.some((x) => x.name === p),
      `no bench folder found for ${p}`,
    );
  const problems: string[] = [];
  for (const p of pkgs) {
    if (!existsSync(join(p.src, 'targets.ts'))) {
      problems.push(`${p.name}: bench/targets.ts is missing (every bench figure's target goes there)`);
      continue;
    }
    for (const [key, t] of Object.entries(await catalog(p.catalog)))
      for (const why of targetProblems(t)) problems.push(`${p.name} targets.${key}: ${why}`);
  }
  assert.deepEqual(problems, []);
});

test('no bench source writes a target as free text: a text target must be a catalog entry rendered', async () => {
  const problems: string[] = [];
  for (const p of benchPackages()) {
    if (!existsSync(p.catalog)) {
      problems.push(`${p.name}: no built bench/targets.js to hold its text targets against`);
      continue;
    }
    const texts = new Set(Object.values(await catalog(p.catalog)).map((t) => describeTarget(t as Target)));
    for (const file of readdirSync(p.src).filter((f) => f.endsWith('.ts') && !/^targets?\.ts$/.test(f))) {
      const src = readFileSync(join(p.src, file), 'utf8');
      // `target: '...'`, `target: "..."` or `target: \`...\`` in a result literal.
      for (const m of src.matchAll(/\btarget:\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g)) {
        const text = m[2]!;
        if (!texts.has(text))
          problems.push(`${p.name}/bench/${file}: free-text target ${JSON.stringify(text)}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the in-thread call, restart and warm-restart figures of core are ratios to same-run baselines', async () => {
  const core = (await import('../bench/targets.js')).targets as Record<string, Target>;
  for (const key of ['inThreadCalls1', 'inThreadCalls64', 'inThreadRestart', 'warmRestart']) {
    const t = core[key];
    assert.ok(t, `core targets.${key} is missing`);
    assert.equal(t.kind, 'ratio', `core targets.${key}`);
  }
});

test('the check refuses absolute targets, free text, and ratios or bounds without what makes them relative', () => {
  // What the four core rows were before issue 16: an absolute rate and an absolute time.
  assert.notDeepEqual(targetProblems('>= 1,000,000 call/s'), []);
  assert.notDeepEqual(targetProblems('p50 < 50 us'), []);
  assert.notDeepEqual(targetProblems({ kind: 'absolute', op: '<=', bound: 5, unit: 'ms' }), []);
  assert.notDeepEqual(targetProblems({ kind: 'ratio', op: '<=', bound: 1.2 }), []); // no baseline
  assert.notDeepEqual(targetProblems({ kind: 'ratio', op: '<', bound: 1.2, baseline: 'x' }), []);
  assert.notDeepEqual(targetProblems({ kind: 'ratio', op: '<=', bound: Number.NaN, baseline: 'x' }), []);
  assert.notDeepEqual(targetProblems({ kind: 'protocol', bound: '<= TTL' }), []); // no reason
  assert.notDeepEqual(targetProblems({ kind: 'diagnostic', reason: ' ' }), []);
  assert.deepEqual(targetProblems({ kind: 'ratio', op: '>=', bound: 0.9, baseline: 'raw piscina' }), []);
  assert.deepEqual(targetProblems({ kind: 'protocol', bound: '<= TTL', reason: 'the configured TTL' }), []);
  assert.deepEqual(targetProblems({ kind: 'zero' }), []);
});

test('the runner judges a row from its target and figures, not from a bound written in the suite', () => {
  const le: Target = { kind: 'ratio', op: '<=', bound: 1.15, baseline: 'raw' };
  assert.equal(judgeTarget(le, { value: 600, ratio: 1.15 }, undefined), true);
  assert.equal(judgeTarget(le, { value: 600, ratio: 1.16 }, undefined), false);
  assert.equal(judgeTarget(le, { value: 600 }, undefined), false); // a ratio target with no ratio
  assert.equal(judgeTarget(le, { value: 600, ratio: 1 }, false), false); // the suite's further condition
  const ge: Target = { kind: 'ratio', op: '>=', bound: 0.9, baseline: 'raw' };
  assert.equal(judgeTarget(ge, { value: 1, ratio: 0.89 }, true), false);
  assert.equal(judgeTarget({ kind: 'zero' }, { value: 0 }, undefined), true);
  assert.equal(judgeTarget({ kind: 'zero' }, { value: 1 }, true), false);
  const proto: Target = { kind: 'protocol', bound: '<= TTL', reason: 'the TTL' };
  assert.equal(judgeTarget(proto, { value: 900 }, true), true);
  assert.equal(judgeTarget(proto, { value: 900 }, undefined), false); // only the suite knows the bound
  assert.equal(judgeTarget({ kind: 'diagnostic', reason: 'r' }, { value: Number.NaN }, true), false);
  assert.equal(describeTarget(le), 'ratio <= 1.15');
  assert.equal(describeTarget({ ...ge, note: 'n' }), 'ratio >= 0.9 (n)');
});
