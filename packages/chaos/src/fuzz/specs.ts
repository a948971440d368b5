/**
 * Child specs and supervisor flags built at random, fed to `startSupervisor` and to `startChild`.
 * Each field is drawn from good and bad values; an independent oracle (written from the rules in
 * docs/errors.md and the child-spec contract, not from the validator's code) says what must happen:
 *
 *   startSupervisor: ERR_INVALID_SUPERVISOR_FLAGS if any flag is bad, else ERR_INVALID_CHILD_SPEC if
 *   any child spec is bad (or a simple_one_for_one supervisor has not exactly one), else
 *   ERR_DUPLICATE_CHILD_ID if two ids repeat, else it starts;
 *   startChild: ERR_INVALID_CHILD_SPEC if the spec is bad, ERR_ALREADY_STARTED for the id of a
 *   running child, else it starts.
 *
 * A missing field, a field set to `undefined` and, for the fields the validator reads with `??`
 * (the four flags; restart, shutdown, type and significant of a child), `null` all mean the default,
 * as for any optional property in TypeScript; `null` is drawn as a good value only for the flags.
 * After every input the long-lived fuzz supervisor must still answer `whichChildren` with its
 * resident child running, and every 10 inputs start and remove a good child.
 */
import {
  type ChildSpec,
  defineServer,
  deleteChild,
  Exit,
  exit,
  type Pid,
  serverChild,
  startChild,
  startSupervisor,
  TrellisError,
  terminateChild,
  whichChildren,
} from '@trellis/core';
import type { Prng } from '../prng.js';
import type { Tally } from './tally.js';

const idle = defineServer<null, []>({ init: () => null });
const GOOD_START = serverChild(idle);

type Drawn = { value: unknown; ok: boolean };
const good = (value: unknown): Drawn => ({ value, ok: true });
const bad = (value: unknown): Drawn => ({ value, ok: false });
const ABSENT = Symbol('absent');

function draw(r: Prng, goods: readonly unknown[], bads: readonly unknown[], pBad: number): Drawn {
  if (r.chance(pBad)) return bad(r.pick(bads));
  return good(r.pick(goods));
}

interface Built {
  readonly spec: Record<string, unknown>;
  readonly ok: boolean;
  readonly id: unknown;
  readonly describe: string;
}

const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];
const RESTARTS = ['permanent', 'transient', 'temporary'];

/** A random child spec and whether it is valid under a supervisor with `autoShutdown`. */
export function randomSpec(r: Prng, ids: readonly unknown[], autoShutdown: string, pBad: number): Built {
  const spec: Record<string, unknown> = {};
  const put = (k: string, d: Drawn): boolean => {
    if (d.value !== ABSENT) spec[k] = d.value;
    return d.ok;
  };
  let ok = true;
  const id = draw(r, ids, [undefined, '', 42, null, {}, ['a']], pBad);
  ok = put('id', id) && ok;
  ok = put('start', draw(r, [GOOD_START], [undefined, 'start', 42, {}, null], pBad)) && ok;
  ok = put('args', draw(r, [ABSENT, undefined, [], [1, 'x']], ['args', 7, { 0: 1 }, null], pBad)) && ok;
  const restart = draw(r, [ABSENT, undefined, ...RESTARTS], ['sometimes', 1, '', 'PERMANENT'], pBad);
  ok = put('restart', restart) && ok;
  ok =
    put(
      'shutdown',
      draw(
        r,
        [ABSENT, undefined, 'brutal_kill', 'infinity', 0, 100, 5000],
        [-1, 1.5, Number.NaN, '100', Number.POSITIVE_INFINITY, 'never'],
        pBad,
      ),
    ) && ok;
  ok = put('type', draw(r, [ABSENT, undefined, 'worker', 'supervisor'], ['thread', 1, ''], pBad)) && ok;
  const significant = draw(r, [ABSENT, undefined, false, true], ['yes', 1], pBad);
  ok = put('significant', significant) && ok;
  const backoff = draw(
    r,
    [
      ABSENT,
      undefined,
      { minMs: 10, maxMs: 100 },
      { minMs: 5, maxMs: 5, randomFactor: 0.5, maxRetries: 3, resetAfterMs: 0 },
    ],
    [
      'fast',
      null,
      { minMs: 0, maxMs: 10 },
      { minMs: 100, maxMs: 10 },
      { minMs: 10, maxMs: 100, randomFactor: 2 },
      { minMs: 10, maxMs: 100, randomFactor: Number.NaN },
      { minMs: 10, maxMs: 100, maxRetries: -1 },
      { minMs: 10, maxMs: 100, maxRetries: 1.5 },
      { minMs: 10, maxMs: 100, resetAfterMs: -1 },
      { minMs: Number.POSITIVE_INFINITY, maxMs: Number.POSITIVE_INFINITY },
    ],
    pBad,
  );
  ok = put('backoff', backoff) && ok;
  // Cross-field rules: a significant child must not be permanent (the default restart), and needs
  // a supervisor whose autoShutdown is not 'never'.
  if (significant.ok && significant.value === true) {
    const r0 = restart.ok
      ? restart.value === ABSENT || restart.value === undefined
        ? 'permanent'
        : restart.value
      : undefined;
    if (r0 === 'permanent' || autoShutdown === 'never') ok = false;
  }
  return { spec, ok, id: id.value, describe: describeSpec(spec) };
}

export function randomFlags(
  r: Prng,
  pBad: number,
): { flags: Record<string, unknown>; ok: boolean; autoShutdown: string; strategy: string } {
  const flags: Record<string, unknown> = {};
  let ok = true;
  const field = (k: string, d: Drawn) => {
    if (d.value !== ABSENT) flags[k] = d.value;
    ok = d.ok && ok;
    return d.value;
  };
  const strategy = field(
    'strategy',
    draw(r, [ABSENT, undefined, null, ...STRATEGIES], ['one_for_some', '', 3], pBad),
  );
  field('intensity', draw(r, [ABSENT, undefined, null, 0, 1, 3, 100], [-1, 1.5, '3', Number.NaN], pBad));
  field(
    'periodMs',
    draw(r, [ABSENT, undefined, null, 1, 5000], [0, -5, 2.5, '5000', Number.POSITIVE_INFINITY], pBad),
  );
  const auto = field(
    'autoShutdown',
    draw(
      r,
      [ABSENT, undefined, null, 'never', 'any_significant', 'all_significant'],
      ['sometimes', true],
      pBad,
    ),
  );
  return {
    flags,
    ok,
    autoShutdown: typeof auto === 'string' ? auto : 'never',
    strategy: typeof strategy === 'string' ? strategy : 'one_for_one',
  };
}

function describeSpec(o: Record<string, unknown>): string {
  return JSON.stringify(o, (_k, v) =>
    typeof v === 'function'
      ? '<start fn>'
      : typeof v === 'number' && !Number.isFinite(v)
        ? String(v)
        : v === undefined
          ? '<undefined>'
          : v,
  );
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; value?: unknown }> {
  try {
    return { code: 'ok', value: await p };
  } catch (e) {
    return { code: e instanceof TrellisError ? e.code : `not a TrellisError: ${(e as Error)?.message}` };
  }
}

/**
 * Fuzzes `startSupervisor` (half the inputs) and `startChild` on a long-lived supervisor (the other
 * half). Returns the mismatches with the oracle as unclean inputs.
 */
export async function fuzzChildSpecs(r: Prng, count: number, tally: Tally): Promise<void> {
  const home = await startSupervisor({
    flags: { strategy: 'one_for_one', intensity: 10, periodMs: 1000 },
    children: [{ id: 'resident', start: GOOD_START }],
  });
  try {
    for (let i = 0; i < count; i++) {
      if (r.chance(0.5)) await oneSupervisor(r, tally);
      else await oneStartChild(r, home, i, tally);
      const problem = await supervisorServes(home, i % 10 === 9);
      if (problem !== undefined) tally.notServing(problem);
    }
  } finally {
    exit(home, Exit.shutdown());
  }
}

async function oneSupervisor(r: Prng, tally: Tally): Promise<void> {
  const f = randomFlags(r, 0.1);
  const n = r.int(0, 4);
  const ids = ['a', 'b', 'c'];
  const children = Array.from({ length: n }, () => randomSpec(r, ids, f.autoShutdown, 0.05));
  let expected: string;
  if (!f.ok) expected = 'ERR_INVALID_SUPERVISOR_FLAGS';
  else if (children.some((c) => !c.ok)) expected = 'ERR_INVALID_CHILD_SPEC';
  else if (f.strategy === 'simple_one_for_one' && n !== 1) expected = 'ERR_INVALID_CHILD_SPEC';
  else if (f.strategy !== 'simple_one_for_one' && new Set(children.map((c) => c.id)).size !== n)
    expected = 'ERR_DUPLICATE_CHILD_ID';
  else expected = 'ok';
  const o = await codeOf(
    startSupervisor({
      flags: f.flags as never,
      children: children.map((c) => c.spec) as unknown as ChildSpec[],
    }),
  );
  if (o.code === 'ok') exit(o.value as Pid, Exit.shutdown());
  tally.add(
    o.code === expected ? `startSupervisor ${o.code}` : `startSupervisor ${o.code}, oracle ${expected}`,
    o.code === expected,
    () => `flags ${describeSpec(f.flags)}, children [${children.map((c) => c.describe).join(', ')}]`,
  );
}

async function oneStartChild(r: Prng, sup: Pid, i: number, tally: Tally): Promise<void> {
  const fresh = `fuzz-${i}`;
  const c = randomSpec(r, [fresh, fresh, fresh, 'resident'], 'never', 0.08);
  const expected = !c.ok ? 'ERR_INVALID_CHILD_SPEC' : c.id === 'resident' ? 'ERR_ALREADY_STARTED' : 'ok';
  const o = await codeOf(startChild(sup, c.spec as unknown as ChildSpec, 5000));
  if (o.code === 'ok' && typeof c.id === 'string') {
    await codeOf(terminateChild(sup, c.id, 5000));
    await codeOf(deleteChild(sup, c.id, 5000));
  }
  tally.add(
    o.code === expected ? `startChild ${o.code}` : `startChild ${o.code}, oracle ${expected}`,
    o.code === expected,
    () => `startChild(${c.describe})`,
  );
}

/** The supervisor answers, its resident child runs, and (every 10 inputs) a good child comes and goes. */
async function supervisorServes(sup: Pid, full: boolean): Promise<string | undefined> {
  const kids = await codeOf(whichChildren(sup, 5000));
  if (kids.code !== 'ok') return `whichChildren failed: ${kids.code}`;
  const list = kids.value as { id: string | undefined; pid: unknown }[];
  const resident = list.find((k) => k.id === 'resident');
  if (resident === undefined || typeof resident.pid !== 'string')
    return `resident child not running: ${JSON.stringify(list)}`;
  const stray = list.filter((k) => k.id !== 'resident');
  if (stray.length > 0) return `children left behind: ${stray.map((k) => k.id).join(', ')}`;
  if (!full) return undefined;
  const s = await codeOf(startChild(sup, { id: 'probe', start: GOOD_START }, 5000));
  if (s.code !== 'ok') return `a good startChild failed: ${s.code}`;
  await codeOf(terminateChild(sup, 'probe', 5000));
  const d = await codeOf(deleteChild(sup, 'probe', 5000));
  return d.code === 'ok' ? undefined : `deleteChild failed: ${d.code}`;
}
