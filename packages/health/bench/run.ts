/** `node packages/health/dist/bench/run.js`: runs the health benchmarks, prints JSON, writes bench-results/health.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from './index.js';

// The targets are data judged by core's bench/target.ts (as scripts/bench.mjs does); loaded from
// core's build output next to this package's, since bench code is not part of core's exports.
const { judgeTarget } = (await import(
  new URL('../../../core/dist/bench/target.js', import.meta.url).href
)) as typeof import('../../core/bench/target.js');

const results = await run();
const out = { scope: 'health', date: new Date().toISOString(), node: process.version, results };
const dir = fileURLToPath(new URL('../../../../bench-results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}health.json`, `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exitCode = results.every((r) => judgeTarget(r.target, r, (r as { pass?: boolean }).pass)) ? 0 : 1;
