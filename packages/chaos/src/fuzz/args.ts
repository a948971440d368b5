/**
 * Arguments that do not match the tools' schemas, through the public API (`pool.call`): random JSON,
 * wrong types for every parameter, deep nesting, huge strings, values that are not objects, odd
 * strings and numbers, bytes for a JSON tool. And calls of tools that do not exist.
 *
 * Clean: success (the arguments happened to be valid; echo's answer must equal its input) or a
 * TrellisError with ERR_INVALID_ARGUMENT, ERR_TOOL_FAILED or ERR_PAYLOAD_TOO_LARGE; for unknown tools
 * exactly ERR_TOOL_NOT_FOUND. Anything else (another code, a plain Error, no answer) is not.
 */
import { isDeepStrictEqual } from 'node:util';
import { TrellisError } from '@trellis/core';
import type { ToolPool } from '@trellis/grpc-bridge';
import type { Prng } from '../prng.js';
import type { Tally } from './tally.js';

const ALLOWED = new Set(['ERR_INVALID_ARGUMENT', 'ERR_TOOL_FAILED', 'ERR_PAYLOAD_TOO_LARGE']);

/** The tools fuzzed, with their real parameter names. */
const TOOLS: Readonly<Record<'a' | 'b', Readonly<Record<string, readonly string[]>>>> = {
  a: { echo: ['value'], add: ['a', 'b'], order: ['lines', 'priority', 'note'] },
  b: { upper: ['text'], mean: ['values'], digest: ['data'] },
};

export function randomJson(r: Prng, depth: number): unknown {
  const leaf = (): unknown =>
    r.pick<() => unknown>([
      () => null,
      () => r.chance(0.5),
      () => r.int(-1e6, 1e6),
      () => r.range(-1e12, 1e12),
      () =>
        r.pick([
          0,
          -0,
          2 ** 53 + 1,
          -(2 ** 63),
          1e308,
          Number.MIN_VALUE,
          Number.NaN,
          Number.POSITIVE_INFINITY,
        ]),
      () => oddString(r),
      () => r.bytes(r.int(0, 16)).toString('latin1'),
    ])();
  if (depth <= 0 || r.chance(0.4)) return leaf();
  if (r.chance(0.5)) return Array.from({ length: r.int(0, 6) }, () => randomJson(r, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = r.int(0, 6); i > 0; i--) o[oddString(r)] = randomJson(r, depth - 1);
  return o;
}

export function oddString(r: Prng): string {
  return r.pick<() => string>([
    () => '',
    () => 'sku',
    () => '\u0000nul',
    () => '\ud800 lone surrogate',
    () => '\udfff\ud800',
    () => 'emoji \u{1F600} and RTL \u202e',
    () => '__proto__',
    () => 'constructor',
    () => ' '.repeat(r.int(1, 50)),
    () => 'x'.repeat(r.int(1, 300)),
    () => `${r.bytes(8).toString('hex')}`,
  ])();
}

function nested(r: Prng, depth: number): unknown {
  let v: unknown = r.int(0, 10);
  const asArray = r.chance(0.5);
  for (let d = 0; d < depth; d++) v = asArray ? [v] : { k: v };
  return v;
}

type ArgGen = (r: Prng, params: readonly string[], maxBytes: number) => unknown;

export const ARG_INPUTS: readonly (readonly [string, ArgGen])[] = [
  [
    'random JSON',
    (r, params) => {
      const o: Record<string, unknown> = {};
      for (const p of params) if (r.chance(0.6)) o[p] = randomJson(r, 4);
      for (let i = r.int(0, 3); i > 0; i--) o[oddString(r)] = randomJson(r, 3);
      return o;
    },
  ],
  [
    'wrong types',
    (r, params) =>
      Object.fromEntries(
        params.map((p) => [
          p,
          r.pick<unknown>([true, 'text', 3.5, [1, 'a'], { nested: true }, null, -1, 2 ** 70]),
        ]),
      ),
  ],
  [
    'deep nesting',
    (r, params) => ({ [r.pick(params)]: nested(r, r.pick([64, 500, 3000, 20_000, 200_000])) }),
  ],
  [
    'huge string',
    (r, params, maxBytes) => ({
      [r.pick(params)]: 'y'.repeat(
        r.chance(0.7) ? r.int(100_000, maxBytes - 4096) : r.int(maxBytes, maxBytes * 3),
      ),
    }),
  ],
  ['not an object', (r) => r.pick<unknown>([[1, 2], 'text', 42, true, [{ a: 1 }], Symbol.for('x'), 10n])],
  ['bytes for JSON', (r) => r.bytes(r.int(0, 512))],
  [
    'odd values',
    (r, params) =>
      Object.fromEntries(params.map((p) => [p, r.chance(0.5) ? oddString(r) : randomJson(r, 0)])),
  ],
];

async function outcome(p: Promise<unknown>): Promise<{ code: string; value?: unknown }> {
  try {
    return { code: 'ok', value: await p };
  } catch (e) {
    if (e instanceof TrellisError) return { code: e.code };
    return { code: `not a TrellisError: ${(e as Error)?.name}: ${(e as Error)?.message}` };
  }
}

export async function fuzzArgs(
  r: Prng,
  count: number,
  pools: { a: ToolPool; b: ToolPool },
  maxBytes: number,
  tally: Tally,
  servesAfter: (pool: ToolPool) => Promise<string | undefined>,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const which = r.chance(0.5) ? 'a' : 'b';
    const pool = pools[which];
    const tools = TOOLS[which];
    const tool = r.pick(Object.keys(tools));
    const [family, gen] = r.pick(ARG_INPUTS);
    const args = gen(r, tools[tool]!, maxBytes);
    const o = await outcome(pool.call(tool, args as Record<string, unknown>, { timeoutMs: 5000 }));
    let clean = o.code === 'ok' || ALLOWED.has(o.code);
    let label = o.code;
    if (o.code === 'ok' && tool === 'echo') {
      const expected = JSON.parse(JSON.stringify(args)).value ?? null;
      if (!isDeepStrictEqual(o.value, expected)) {
        clean = false;
        label = 'ok, but echo answered something else';
      }
    }
    tally.add(label, clean, () => `${family} -> ${pool.name}.${tool}(${safeHead(args)})`);
    const problem = await servesAfter(pool);
    if (problem !== undefined) tally.notServing(`after ${family} -> ${tool}: ${problem}`);
  }
}

export function unknownToolName(r: Prng, known: ReadonlySet<string>): unknown {
  for (let i = 0; i < 100; i++) {
    const name = r.pick<() => unknown>([
      () => '',
      () => ' ',
      () => 'echo ',
      () => 'ECHO',
      () => '../echo',
      () => 'echo\u0000',
      () => 'a'.repeat(r.int(200, 20_000)),
      () => oddString(r),
      () => `tool_${r.bytes(4).toString('hex')}`,
      () => r.pick([42, null, undefined, { name: 'echo' }, ['echo']]),
    ])();
    if (!(typeof name === 'string' && known.has(name))) return name;
  }
  return 'no_such_tool';
}

export async function fuzzUnknownTools(
  r: Prng,
  count: number,
  pools: readonly ToolPool[],
  tally: Tally,
  servesAfter: (pool: ToolPool) => Promise<string | undefined>,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const pool = pools[i % pools.length]!;
    const known = new Set(pool.tools().map((t) => t.name));
    const name = unknownToolName(r, known);
    const o = await outcome(pool.call(name as string, {}, { timeoutMs: 5000 }));
    tally.add(o.code, o.code === 'ERR_TOOL_NOT_FOUND', () => `${pool.name}.call(${safeHead(name)})`);
    const problem = await servesAfter(pool);
    if (problem !== undefined) tally.notServing(`after unknown tool ${safeHead(name)}: ${problem}`);
  }
}

function safeHead(v: unknown): string {
  try {
    if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
    const s = JSON.stringify(v, (_k, x) =>
      typeof x === 'bigint' ? `${x}n` : typeof x === 'symbol' ? String(x) : x,
    );
    return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 120)}... (${s.length} chars)` : s;
  } catch {
    return '<not printable (too deep)>';
  }
}
