/**
 * Arrow tables across the bridge: an apache-arrow `Table` (or `RecordBatch`) passed as a call's
 * arguments travels as one Arrow IPC stream (`application/vnd.apache.arrow.stream`), which the
 * worker reads into a `pyarrow.Table` over the shared-memory mapping without a copy; a tool that
 * returns a pyarrow Table or RecordBatch comes back as an apache-arrow `Table`.
 *
 * Why loaded this way: apache-arrow is an optional peer dependency (most pools never see a table),
 * and the payload functions are synchronous, on the call's hot path. The package ships an ES module
 * build and a CommonJS one, whose classes are distinct: a table must be written by the build that
 * made it (its writer tests `instanceof Table`; a table of the other build is written as a schema
 * with no rows). So when apache-arrow is installed, its ES module build is imported in the
 * background as this file loads (what an ES module app gets too), the CommonJS build is required
 * on demand, and a table is written by whichever of the two it belongs to. Results are read with
 * the ES module build when it is loaded.
 */
import { createRequire } from 'node:module';
import { TrellisError } from '@trellis/core';

export const ARROW_TYPE = 'application/vnd.apache.arrow.stream';

/** What this file uses of apache-arrow. */
interface ArrowModule {
  tableToIPC(table: unknown, type: 'stream'): Uint8Array;
  tableFromIPC(input: Uint8Array): unknown;
  Table: new (...batches: unknown[]) => unknown;
  RecordBatch: abstract new (...args: never[]) => unknown;
}

/** ERR_ARROW_MISSING: an Arrow table crossed the bridge but apache-arrow is not installed. */
export class ArrowMissingError extends TrellisError {
  constructor(tool: string | undefined, cause: unknown) {
    super(
      'ERR_ARROW_MISSING',
      `${tool ? `the result of "${tool}"` : 'a result'} is an Arrow table (${ARROW_TYPE}), but the apache-arrow package cannot be loaded (${(cause as Error)?.message ?? cause}); install it in your app (npm install apache-arrow) to get it as a Table, or call with { raw: true } to get its Arrow IPC bytes`,
      { details: { tool, contentType: ARROW_TYPE } },
    );
  }
}

const require = createRequire(import.meta.url);
let cjs: ArrowModule | undefined;
let esm: ArrowModule | undefined;

// The ES module build, in the background, only where apache-arrow is installed.
try {
  require.resolve('apache-arrow');
  import('apache-arrow').then(
    (m) => {
      esm = m as unknown as ArrowModule;
    },
    () => {},
  );
} catch {
  // not installed: a table that shows up gets ERR_ARROW_MISSING / an argument error
}

function loadCjs(tool?: string): ArrowModule {
  if (cjs !== undefined) return cjs;
  try {
    cjs = require('apache-arrow') as ArrowModule;
  } catch (e) {
    throw new ArrowMissingError(tool, e);
  }
  return cjs;
}

/** The build `v` belongs to (undefined: neither, a copy of apache-arrow this bridge did not load). */
function buildOf(v: object): ArrowModule | undefined {
  for (const m of [esm, loadCjs()]) {
    if (m !== undefined && (v instanceof m.Table || v instanceof m.RecordBatch)) return m;
  }
  return undefined;
}

/** An apache-arrow Table or RecordBatch, as far as the bridge needs to know one. */
export interface ArrowTableLike {
  readonly schema: unknown;
  readonly numRows: number;
  getChild(name: string): unknown;
}

/** True for an apache-arrow Table or RecordBatch (by shape). */
export function isArrowTable(v: object): v is ArrowTableLike {
  const o = v as { schema?: unknown; numRows?: unknown; getChild?: unknown };
  return o.schema !== undefined && typeof o.numRows === 'number' && typeof o.getChild === 'function';
}

/** A Table or RecordBatch as one Arrow IPC stream. */
export function arrowToIPC(v: object): Uint8Array {
  const a = buildOf(v);
  if (a === undefined)
    throw new Error(
      'it comes from a copy of apache-arrow other than the one @trellis/grpc-bridge resolves; install one apache-arrow in your app (npm ls apache-arrow shows the copies)',
    );
  const table = v instanceof a.Table ? v : new a.Table(v);
  return a.tableToIPC(table, 'stream');
}

/** An Arrow IPC stream as an apache-arrow Table (its column data views `data`, no copy). */
export function arrowFromIPC(data: Uint8Array, tool?: string): unknown {
  return (esm ?? loadCjs(tool)).tableFromIPC(data);
}
