/**
 * Keeps docs/errors.md true (issue 20): every error code the TypeScript packages raise, every warning
 * code they emit, and every exception the Python SDK maps to a gRPC status has a row there; and every
 * row names something the source still has. A code added without its row, or a row left behind by a
 * removed code, fails here rather than drifting silently.
 *
 * The source is read as text (a regex over `packages/*\/src`), not imported: a code is whatever string
 * literal the source carries, which is exactly what a user can match on.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';

// dist/test/ -> packages/core -> packages -> repository root.
const root = resolve(import.meta.dirname, '..', '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');

/**
 * Codes that appear in the source but are not Trellis's: they are matched, never raised. Each entry
 * says where it comes from; the test checks it still appears, so this list cannot rot either.
 */
const FOREIGN_CODES: Readonly<Record<string, string>> = {
  ERR_WORKER_OUT_OF_MEMORY: "Node's worker_threads code, mapped to ERR_THREAD_OUT_OF_MEMORY",
  ERR_PARSE_ARGS_UNKNOWN_OPTION: "Node's util.parseArgs code, turned into a usage refusal (exit 2)",
  ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL: "Node's util.parseArgs code, turned into a usage refusal (exit 2)",
};

function sourceFiles(dir: string, ext: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === '__pycache__' || name === '_proto') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sourceFiles(p, ext, out);
    else if (name.endsWith(ext) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every `packages/<pkg>/src` tree (TypeScript). */
function tsSources(): string[] {
  const files: string[] = [];
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src');
    try {
      if (statSync(src).isDirectory()) sourceFiles(src, '.ts', files);
    } catch {
      // a package without src/ (the Python SDK)
    }
  }
  return files;
}

/** code -> first file (relative to the repository) that carries it. */
function collect(files: readonly string[], pattern: RegExp): Map<string, string> {
  const found = new Map<string, string>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(pattern)) {
      const code = m[1]!;
      if (!found.has(code)) found.set(code, relative(root, f));
    }
  }
  return found;
}

interface DocTable {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** The markdown tables of errors.md, cells trimmed. */
function docTables(): DocTable[] {
  const tables: DocTable[] = [];
  let current: { header: string[]; rows: string[][] } | undefined;
  for (const line of doc.split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line
      .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
      .split('|')
      .map((c) => c.trim());
    if (!current) {
      current = { header: cells, rows: [] };
      tables.push(current);
    } else if (!cells.every((c) => /^:?-+:?$/.test(c))) current.rows.push(cells);
  }
  return tables;
}

/** The backticked names in a cell: `ERR_X` / `A` / `B`. */
function ticked(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

const tables = docTables();
const documentedCodes = new Set(
  tables.flatMap((t) => t.rows.flatMap((r) => ticked(r[0] ?? ''))).filter((c) => /^(ERR|TRELLIS)_/.test(c)),
);

describe('docs/errors.md matches the source (TypeScript and Python)', () => {
  // The Python SDK's package is scanned too: a code it raises by name needs its row as well.
  const files = [
    ...tsSources(),
    ...sourceFiles(join(root, 'packages', 'python-sdk', 'trellis_worker'), '.py'),
  ];
  // A string literal that is a whole code: 'ERR_X', "ERR_X" or `ERR_X`.
  const errCodes = collect(files, /['"`](ERR_[A-Z0-9_]+)['"`]/g);
  // Warnings: process.emitWarning(..., { code: 'TRELLIS_X' }) and typed warning objects.
  const warningCodes = collect(files, /\bcode: ['"`](TRELLIS_[A-Z0-9_]+)['"`]/g);

  test('the scan finds the codes (guards against a broken pattern or path)', () => {
    assert.ok(files.length > 50, `only ${files.length} source files under packages/*/src`);
    for (const known of ['ERR_NOPROC', 'ERR_REGISTRY_UNAVAILABLE', 'ERR_TOOL_FAILED']) {
      assert.ok(errCodes.has(known), `${known} not found in the source`);
    }
    assert.ok(documentedCodes.has('ERR_NOPROC'));
  });

  test('every ERR_ code in packages/*/src and the Python SDK has a row', () => {
    const missing = [...errCodes]
      .filter(([code]) => !(code in FOREIGN_CODES) && !documentedCodes.has(code))
      .map(([code, file]) => `${code} (${file})`);
    assert.deepEqual(missing, [], `codes without a row in docs/errors.md: ${missing.join(', ')}`);
  });

  test('every warning code (TRELLIS_*) emitted in packages/*/src has a row', () => {
    const missing = [...warningCodes]
      .filter(([code]) => !documentedCodes.has(code))
      .map(([code, file]) => `${code} (${file})`);
    assert.deepEqual(missing, [], `warnings without a row in docs/errors.md: ${missing.join(', ')}`);
  });

  test('every code documented in a row is in the source', () => {
    const stale = [...documentedCodes].filter((c) => !errCodes.has(c) && !warningCodes.has(c));
    assert.deepEqual(stale, [], `rows whose code no source raises: ${stale.join(', ')}`);
  });

  test('each foreign code is still matched in the source', () => {
    for (const code of Object.keys(FOREIGN_CODES)) assert.ok(errCodes.has(code), `${code} no longer appears`);
  });
});

describe('docs/errors.md matches the Python SDK', () => {
  const statusPy = readFileSync(join(root, 'packages', 'python-sdk', 'trellis_worker', 'status.py'), 'utf8');
  // STATUS_BY_EXCEPTION's pairs: (ValidationError, grpc.StatusCode.INVALID_ARGUMENT), ...
  const pairs = [...statusPy.matchAll(/\(\s*([\w.]+)\s*,\s*grpc\.StatusCode\.([A-Z_]+)\s*\)/g)].map((m) => ({
    exception: m[1]!.split('.').at(-1)!,
    status: m[2]!,
  }));
  // The fall-through: any other exception.
  const fallback = /\n {4}return grpc\.StatusCode\.([A-Z_]+)\s*$/m.exec(statusPy)?.[1];
  const pyTable = tables.find((t) => /gRPC status/.test(t.header[0] ?? ''));

  test('the Python exception -> status table is found', () => {
    assert.ok(pairs.length >= 5, 'STATUS_BY_EXCEPTION not found in status.py');
    assert.ok(fallback, 'the fall-through status of status_for not found');
    assert.ok(pyTable, 'no table whose first column is "gRPC status" in docs/errors.md');
  });

  test('every exception mapped in status.py has its status row, and the fall-through is documented', () => {
    const documented = new Map<string, Set<string>>();
    for (const row of pyTable!.rows) {
      const status = ticked(row[0] ?? '')[0];
      if (status) documented.set(status, new Set(ticked(row[1] ?? '')));
    }
    const missing = pairs
      .filter((p) => !documented.get(p.status)?.has(p.exception))
      .map((p) => `${p.exception} -> ${p.status}`);
    assert.deepEqual(missing, [], `exceptions missing from the Python table: ${missing.join(', ')}`);
    const fallRow = pyTable!.rows.find((r) => ticked(r[0] ?? '')[0] === fallback);
    assert.ok(
      fallRow && /any other exception/.test(fallRow[1] ?? ''),
      `${fallback} row must say "any other exception"`,
    );
  });

  test('every status row of the Python table is one status.py can answer', () => {
    const statuses = new Set([...pairs.map((p) => p.status), fallback]);
    const stale = pyTable!.rows.map((r) => ticked(r[0] ?? '')[0]).filter((s) => !s || !statuses.has(s));
    assert.deepEqual(stale, [], `Python rows with no mapping in status.py: ${stale.join(', ')}`);
  });
});
