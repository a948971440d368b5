#!/usr/bin/env node
// The duplicate-code check of `pnpm lint` (issue 20: no two places inside packages/*/src or the
// Python SDK's package share six or more lines). jscpd (pinned in the root package.json) reads every
// packages/<pkg>/src and packages/python-sdk/trellis_worker and reports each run of 6 or more lines
// (and jscpd's default 50 tokens) that stands in two places; any such clone fails lint, unless its
// pair of files is in ALLOWED below, each with the reason it stays.
//
// jscpd runs in its default mode: the same tokens, whatever the white space and comments (copies).
// It is jscpd 4 (the JavaScript implementation): jscpd 5.3.2 (the native one) was tried first and
// missed a 33-line copy of part of a method that jscpd 4 reports (tested by hand, December 2026).
// Lines that differ only in names and values (`--ignore-identifiers`) are not checked here: in that
// mode it pairs every two interfaces or option tables whose fields line up, which no shared function
// can remove; the review of such look-alikes stays with people.
//
// Why a script around jscpd and not its own config: the allow-list needs a reason per entry, which
// a JSON config cannot carry, and an entry that no longer matches should be named so it gets dropped.
//
// Left out: generator output only, which is rewritten by its generator and never edited:
//   packages/grpc-bridge/src/generated/          proto-loader-gen-types (packages/grpc-bridge/scripts/gen-types.mjs)
//   packages/python-sdk/trellis_worker/_proto/   grpc_tools.protoc (scripts/gen-python-stubs.mjs)
// Tests, benches and fixtures are not scanned (the rule is about src).
//
// Usage: node scripts/check-clones.mjs   (exit 1 on a clone not in ALLOWED; the command to see all:
//        pnpm exec jscpd --min-lines 6 packages/*/src packages/python-sdk/trellis_worker)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

const IGNORED = ['**/grpc-bridge/src/generated/**', '**/trellis_worker/_proto/**'];

/**
 * Clones that stay, as pairs of files (relative to the repository root, in either order), each with
 * its reason. Keep it short: a new entry needs a reason a reviewer accepts, and a fixed pair's entry
 * is removed (the check names entries that match nothing).
 */
const ALLOWED = [];

const paths = [
  ...readdirSync(join(root, 'packages'))
    .map((p) => join('packages', p, 'src'))
    .filter((p) => existsSync(join(root, p))),
  join('packages', 'python-sdk', 'trellis_worker'),
];

const bin = join(root, 'node_modules', '.bin', 'jscpd');
const out = mkdtempSync(join(tmpdir(), 'trellis-jscpd-'));
let report;
try {
  const r = spawnSync(
    bin,
    [
      '--min-lines',
      '6',
      // jscpd 4 skips files over 1000 lines or 100 kB by default: none may escape the check.
      '--max-lines',
      '100000',
      '--max-size',
      '10mb',
      // Build outputs that git ignores (core's generated actor list) are not sources.
      '--gitignore',
      '--ignore',
      IGNORED.join(','),
      '--reporters',
      'json',
      '--output',
      out,
      '--absolute',
      '--silent',
      ...paths,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  const file = join(out, 'jscpd-report.json');
  if (r.status !== 0 || !existsSync(file)) {
    console.error(`check-clones: jscpd failed (exit ${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
    console.error('check-clones: run `pnpm install` (jscpd is a root devDependency)');
  } else report = JSON.parse(readFileSync(file, 'utf8'));
} finally {
  // Before any exit: process.exit inside the try would skip this and leave the folder in TMPDIR.
  rmSync(out, { recursive: true, force: true });
}
if (report === undefined) process.exit(2);

const rel = (f) => relative(root, f.name);
const samePair = (entry, a, b) => (entry.a === a && entry.b === b) || (entry.a === b && entry.b === a);
const used = new Set();
const fresh = [];
for (const d of report.duplicates) {
  const a = rel(d.firstFile);
  const b = rel(d.secondFile);
  const entry = ALLOWED.find((e) => samePair(e, a, b));
  if (entry) used.add(entry);
  else
    fresh.push(
      `  ${a}:${d.firstFile.start}-${d.firstFile.end} ~ ${b}:${d.secondFile.start}-${d.secondFile.end} (${d.lines} lines)`,
    );
}
for (const e of ALLOWED) {
  if (!used.has(e))
    console.log(`check-clones: allowed pair no longer found, remove it from ALLOWED: ${e.a} ~ ${e.b}`);
}
if (fresh.length > 0) {
  console.error(`check-clones: ${fresh.length} clone(s) of 6 or more lines in src:`);
  console.error(fresh.join('\n'));
  console.error(
    'check-clones: make the repeated lines one function, table or type both places use; if the two are truly different things, add the pair to ALLOWED in scripts/check-clones.mjs with the reason',
  );
  process.exit(1);
}
const files = report.statistics?.total?.sources ?? '?';
console.log(`check-clones: no clone of 6 or more lines in ${files} src files (${used.size} allowed pair(s))`);
