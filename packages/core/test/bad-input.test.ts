/**
 * Bad input: each mistake gets a TrellisError with a stable code and a message that names the field
 * (or the target) and says how to fix it.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  type ChildSpec,
  call,
  register,
  type SupervisorSpec,
  send,
  spawn,
  startChild,
  startSupervisor,
  TrellisError,
} from '../src/index.js';
import { assertClean, idle, kill, rawChild, stopSup } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

const ok = rawChild(idle);

/** Asserts `p` rejects with a TrellisError of `code` whose message matches every regex in `mentions`. */
async function rejectsWith(p: Promise<unknown>, code: string, mentions: RegExp[]): Promise<TrellisError> {
  const e = await p.then(
    () => assert.fail(`expected ${code}`),
    (x: unknown) => x,
  );
  assert.ok(e instanceof TrellisError, `not a TrellisError: ${String(e)}`);
  assert.equal(e.code, code, e.message);
  for (const m of mentions) assert.match(e.message, m);
  return e;
}

const child = (extra: Record<string, unknown>): ChildSpec => ({ id: 'c', start: ok, ...extra }) as ChildSpec;
const sup = (spec: SupervisorSpec) => startSupervisor(spec);

describe('bad input', () => {
  test('a child spec without start', async () => {
    await rejectsWith(sup({ children: [{ id: 'c' } as ChildSpec] }), 'ERR_INVALID_CHILD_SPEC', [
      /child "c"/,
      /\bstart\b/,
      /serverChild/,
    ]);
  });

  test('an unknown strategy', async () => {
    await rejectsWith(sup({ flags: { strategy: 'one_for_some' as never } }), 'ERR_INVALID_SUPERVISOR_FLAGS', [
      /strategy/,
      /one_for_some/,
      /one_for_one, one_for_all, rest_for_one, simple_one_for_one/,
    ]);
  });

  test('a negative intensity', async () => {
    await rejectsWith(sup({ flags: { intensity: -1 } }), 'ERR_INVALID_SUPERVISOR_FLAGS', [
      /intensity/,
      /whole number >= 0/,
    ]);
  });

  test('a non-integer intensity', async () => {
    await rejectsWith(sup({ flags: { intensity: 2.5 } }), 'ERR_INVALID_SUPERVISOR_FLAGS', [
      /intensity is 2\.5/,
      /whole number/,
    ]);
  });

  test('a period <= 0', async () => {
    for (const periodMs of [0, -10]) {
      await rejectsWith(sup({ flags: { periodMs } }), 'ERR_INVALID_SUPERVISOR_FLAGS', [/periodMs/, /> 0/]);
    }
  });

  test('an unknown autoShutdown', async () => {
    await rejectsWith(
      sup({ flags: { autoShutdown: 'sometimes' as never } }),
      'ERR_INVALID_SUPERVISOR_FLAGS',
      [/autoShutdown/, /any_significant/],
    );
  });

  test('a significant permanent child', async () => {
    await rejectsWith(
      sup({ flags: { autoShutdown: 'any_significant' }, children: [child({ significant: true })] }),
      'ERR_INVALID_CHILD_SPEC',
      [/significant/, /permanent/, /transient or temporary/],
    );
  });

  test('a significant child with autoShutdown never', async () => {
    await rejectsWith(
      sup({ children: [child({ significant: true, restart: 'transient' })] }),
      'ERR_INVALID_CHILD_SPEC',
      [/significant/, /autoShutdown/, /any_significant/],
    );
  });

  test('a duplicate child id', async () => {
    await rejectsWith(sup({ children: [child({}), child({})] }), 'ERR_DUPLICATE_CHILD_ID', [
      /"c"/,
      /unique/,
      /rename/,
    ]);
  });

  test('a call to a dead name', async () => {
    await rejectsWith(call('no-such-server', 'x'), 'ERR_NOPROC', [
      /"no-such-server"/,
      /registered/,
      /Start it first/,
    ]);
  });

  test('a call to a dead pid', async () => {
    const pid = spawn(() => undefined);
    await awaitExit(pid);
    await rejectsWith(call(pid, 'x'), 'ERR_NOPROC', [
      new RegExp(pid.replace(/[<>.]/g, '\\$&')),
      /exited/,
      /Look the server up/,
    ]);
  });

  test('a send to an unregistered name, a register under a taken name', async () => {
    assert.throws(
      () => send('no-such-name', 'x'),
      (e: TrellisError) => {
        assert.ok(e instanceof TrellisError);
        assert.equal(e.code, 'ERR_NOPROC');
        assert.match(e.message, /"no-such-name"/);
        assert.match(e.message, /registered/);
        return true;
      },
    );
    const a = spawn(idle, { name: 'taken' });
    const b = spawn(idle);
    assert.throws(
      () => register('taken', b),
      (e: TrellisError) => {
        assert.equal(e.code, 'ERR_NAME_TAKEN');
        assert.match(e.message, /"taken"/);
        assert.match(e.message, /pick another name/);
        return true;
      },
    );
    await kill(a, b);
  });

  test('bad backoff options', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ minMs: 0, maxMs: 10 }, /backoff\.minMs/],
      [{ minMs: 'soon', maxMs: 10 }, /backoff\.minMs/],
      [{ minMs: 10, maxMs: 5 }, /backoff\.maxMs.*>= backoff\.minMs/],
      [{ minMs: 10, maxMs: Number.POSITIVE_INFINITY }, /backoff\.maxMs/],
      [{ minMs: 10, maxMs: 20, randomFactor: 2 }, /backoff\.randomFactor.*0 to 1/],
      [{ minMs: 10, maxMs: 20, randomFactor: Number.NaN }, /backoff\.randomFactor/],
      [{ minMs: 10, maxMs: 20, maxRetries: -1 }, /backoff\.maxRetries.*whole number/],
      [{ minMs: 10, maxMs: 20, maxRetries: 1.5 }, /backoff\.maxRetries/],
      [{ minMs: 10, maxMs: 20, resetAfterMs: -1 }, /backoff\.resetAfterMs/],
    ];
    for (const [backoff, mention] of cases) {
      await rejectsWith(sup({ children: [child({ backoff })] }), 'ERR_INVALID_CHILD_SPEC', [mention, /use /]);
    }
    await rejectsWith(sup({ children: [child({ backoff: 5 })] }), 'ERR_INVALID_CHILD_SPEC', [
      /backoff/,
      /minMs, maxMs/,
    ]);
  });

  test('a bad shutdown value', async () => {
    for (const shutdown of [-1, 1.5, 'never', '5000']) {
      await rejectsWith(sup({ children: [child({ shutdown })] }), 'ERR_INVALID_CHILD_SPEC', [
        /shutdown/,
        /"brutal_kill", "infinity" or a whole number/,
      ]);
    }
  });

  test('a bad restart value', async () => {
    await rejectsWith(sup({ children: [child({ restart: 'always' })] }), 'ERR_INVALID_CHILD_SPEC', [
      /restart is "always"/,
      /permanent, transient, temporary/,
    ]);
  });

  test('a bad type, id or args', async () => {
    await rejectsWith(sup({ children: [child({ type: 'daemon' })] }), 'ERR_INVALID_CHILD_SPEC', [
      /type/,
      /worker, supervisor/,
    ]);
    await rejectsWith(sup({ children: [child({ id: '' })] }), 'ERR_INVALID_CHILD_SPEC', [
      /\bid\b/,
      /unique string id/,
    ]);
    await rejectsWith(sup({ children: [child({ args: 'x' })] }), 'ERR_INVALID_CHILD_SPEC', [/args/, /array/]);
  });

  test('bad specs given to startChild keep their code across the call', async () => {
    const s = await startSupervisor({});
    await rejectsWith(startChild(s, { id: 'x' } as ChildSpec), 'ERR_INVALID_CHILD_SPEC', [/\bstart\b/]);
    await rejectsWith(startChild(s, ['extra', 'args']), 'ERR_INVALID_CHILD_SPEC', [
      /simple_one_for_one/,
      /child spec/,
    ]);
    await stopSup(s);
    const simple = await startSupervisor({
      flags: { strategy: 'simple_one_for_one' },
      children: [child({})],
    });
    await rejectsWith(startChild(simple, child({ id: 'other' })), 'ERR_INVALID_CHILD_SPEC', [
      /simple_one_for_one/,
      /array/,
    ]);
    await stopSup(simple);
  });
});
