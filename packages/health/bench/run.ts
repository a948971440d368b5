/** `node packages/health/dist/bench/run.js`: runs the health benchmarks, prints JSON, writes bench-results/health.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from './index.js';

const results = await run();
const out = { scope: 'health', date: new Date().toISOString(), node: process.version, results };
const dir = fileURLToPath(new URL('../../../../bench-results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}health.json`, `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exitCode = results.every((r) => r.pass) ? 0 : 1;
