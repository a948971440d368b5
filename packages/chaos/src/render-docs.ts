/**
 * `node packages/chaos/dist/src/render-docs.js`: rewrites the generated sections of
 * docs/reliability.md from bench-results/chaos.json and soak.json (what the runs wrote), for when
 * the rendering changed and the runs need not be repeated.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChaosReport, renderChaos, repoRoot, updateDocs } from './report.js';
import { renderSoak, type SoakReport } from './soak-report.js';

const root = repoRoot();
for (const [name, render] of [
  ['chaos', (r: unknown) => renderChaos(r as ChaosReport)],
  ['soak', (r: unknown) => renderSoak(r as SoakReport)],
] as const) {
  const path = join(root, 'bench-results', `${name}.json`);
  if (!existsSync(path)) {
    console.log(`render-docs: no ${path}; run pnpm ${name} first`);
    continue;
  }
  updateDocs(root, name, render(JSON.parse(readFileSync(path, 'utf8'))));
  console.log(`render-docs: ${name} section rewritten from ${path}`);
}
