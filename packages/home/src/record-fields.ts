/**
 * The check every record read back from a file in the Trellis home goes through, in every package
 * that keeps one (the registry's run and child records, health's records): the file may hold
 * anything (an older layout, a torn write, another program's bytes), so a record is trusted only once
 * it is an object whose fields have the kinds its table names. One table per record kind, one loop.
 */

/** `integer`: Number.isInteger; the others: typeof. */
export type FieldKind = 'string' | 'number' | 'integer';

export function hasFields(v: unknown, fields: Readonly<Record<string, FieldKind>>): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  for (const [name, kind] of Object.entries(fields)) {
    const x = r[name];
    if (kind === 'integer' ? !Number.isInteger(x) : typeof x !== kind) return false;
  }
  return true;
}
