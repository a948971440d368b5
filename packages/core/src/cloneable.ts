/**
 * Checks, before a message leaves its thread, that structured clone can copy it, so `send` can fail
 * at the call site with the path of the offending value instead of the batch failing later.
 * Primitives, plain objects, arrays, Map, Set, Date, RegExp, Error, ArrayBuffer and views clone;
 * functions, symbols, promises and weak collections do not.
 */
import { TrellisError } from './errors.js';

export class NotCloneableError extends TrellisError {
  constructor(path: string, what: string) {
    super(
      'ERR_NOT_CLONEABLE',
      `message for a thread actor is not cloneable: ${path} is ${what}. Messages to other threads are copied with structured clone; send plain data (objects, arrays, strings, numbers, Map, Set, Date, typed arrays) instead`,
      { details: { path, what } },
    );
  }
}

export function assertCloneable(value: unknown, path = 'message'): void {
  walk(value, path, 0, undefined);
}

function walk(
  v: unknown,
  path: string,
  depth: number,
  seen: Set<object> | undefined,
): Set<object> | undefined {
  switch (typeof v) {
    case 'function':
      throw new NotCloneableError(path, 'a function');
    case 'symbol':
      throw new NotCloneableError(path, 'a symbol');
    case 'object':
      break;
    default:
      return seen;
  }
  if (v === null) return seen;
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp)
    return seen;
  if (v instanceof Error) return seen;
  if (v instanceof Promise) throw new NotCloneableError(path, 'a Promise');
  if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
    throw new NotCloneableError(path, `a ${v.constructor.name}`);
  }
  // Only track visited objects below the first levels: cycles are legal in structured clone.
  if (depth > 2) {
    seen ??= new Set();
    if (seen.has(v)) return seen;
    seen.add(v);
  }
  if (depth > 1000) return seen;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) seen = walk(v[i], `${path}[${i}]`, depth + 1, seen);
  } else if (v instanceof Map) {
    for (const [k, x] of v) {
      seen = walk(k, `${path}<key>`, depth + 1, seen);
      seen = walk(x, `${path}.get(${String(k)})`, depth + 1, seen);
    }
  } else if (v instanceof Set) {
    for (const x of v) seen = walk(x, `${path}<item>`, depth + 1, seen);
  } else {
    for (const k of Object.keys(v))
      seen = walk((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1, seen);
  }
  return seen;
}
