/**
 * OTP statements 29-30: monitors, checked on real processes of this node.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { awaitExit, type DownMessage, Exit, exit, isAlive, type Ref, settle, spawn } from '../src/index.js';
import { assertClean, drain, kill, puppet, run } from './fixtures/app-otp-kit.js';

afterEach(assertClean);

const boom = new Error('boom');

describe('monitors', () => {
  test('S29: monitor returns a ref and the watcher gets DOWN {ref, pid, reason} when the target exits', async () => {
    const w = puppet();
    const target = puppet();
    const ref = await run(w, (ctx) => ctx.monitor(target));
    assert.match(ref, /^#Ref<\d+\.\d+>$/);
    const gone = awaitExit(target);
    exit(target, Exit.error(boom));
    await gone;
    assert.deepEqual(await drain(w), [
      { type: 'DOWN', ref, pid: target, reason: Exit.error(boom) },
    ] satisfies DownMessage[]);
    await kill(w);
  });

  test('S29: monitoring a dead or unknown process yields DOWN with noproc at once', async () => {
    const w = puppet();
    const dead = spawn(() => undefined);
    await awaitExit(dead);
    const { ref1, ref2, queued } = await run(w, (ctx) => {
      const ref1 = ctx.monitor(dead);
      const ref2 = ctx.monitor('<0.999999>' as typeof dead);
      // "At once": the DOWN is already in the mailbox when monitor returns.
      return { ref1, ref2, queued: ctx.tryReceive({ type: 'DOWN', ref: ref1 }) };
    });
    assert.deepEqual(queued, { type: 'DOWN', ref: ref1, pid: dead, reason: Exit.noproc });
    assert.deepEqual(await drain(w), [{ type: 'DOWN', ref: ref2, pid: '<0.999999>', reason: Exit.noproc }]);
    await kill(w);
  });

  test('S29: monitors are one-way', async () => {
    const w = puppet();
    const target = puppet();
    await run(w, (ctx) => ctx.monitor(target));
    // The watcher dying does nothing to the target...
    await kill(w);
    await settle();
    assert.equal(isAlive(target), true);
    // ...and the target dying with an error does not kill a second watcher.
    const w2 = puppet();
    await run(w2, (ctx) => ctx.monitor(target));
    const gone = awaitExit(target);
    exit(target, Exit.error(boom));
    await gone;
    assert.equal(isAlive(w2), true);
    assert.equal((await drain(w2)).length, 1);
    await kill(w2);
  });

  test('S29: two monitors on the same process fire twice, each with its own ref', async () => {
    const w = puppet();
    const target = puppet();
    const refs = await run(w, (ctx) => [ctx.monitor(target), ctx.monitor(target)]);
    assert.notEqual(refs[0], refs[1]);
    await kill(target);
    assert.deepEqual(await drain(w), [
      { type: 'DOWN', ref: refs[0], pid: target, reason: Exit.killed },
      { type: 'DOWN', ref: refs[1], pid: target, reason: Exit.killed },
    ]);
    await kill(w);
  });

  test('S30: a monitor fires once and is gone afterwards', async () => {
    const w = puppet();
    const target = puppet();
    const ref = await run(w, (ctx) => ctx.monitor(target));
    await kill(target);
    assert.equal((await drain(w)).length, 1);
    // Exit signals to the dead pid change nothing; demonitor of a fired ref is harmless.
    exit(target, 'kill');
    await run(w, (ctx) => ctx.demonitor(ref));
    await settle();
    assert.deepEqual(await drain(w), []);
    await kill(w);
  });

  test('S30: after demonitor(ref) no DOWN is delivered', async () => {
    const w = puppet();
    const target = puppet();
    const [kept, dropped] = await run(w, (ctx) => [ctx.monitor(target), ctx.monitor(target)] as Ref[]);
    await run(w, (ctx) => ctx.demonitor(dropped!));
    await kill(target);
    assert.deepEqual(await drain(w), [{ type: 'DOWN', ref: kept, pid: target, reason: Exit.killed }]);
    await kill(w);
  });

  test('S30: demonitor with flush removes a DOWN that is already queued', async () => {
    const w = puppet();
    const target = puppet();
    const other = puppet();
    const [ref, otherRef] = await run(w, (ctx) => [ctx.monitor(target), ctx.monitor(other)] as Ref[]);
    await kill(target, other);
    await run(w, (ctx) => ctx.send(ctx.self, 'unrelated'));
    // Without flush the DOWN stays queued (OTP); with flush it is removed and nothing else is.
    await run(w, (ctx) => ctx.demonitor(otherRef!));
    await run(w, (ctx) => ctx.demonitor(ref!, { flush: true }));
    assert.deepEqual(await drain(w), [
      { type: 'DOWN', ref: otherRef, pid: other, reason: Exit.killed },
      'unrelated',
    ]);
    await kill(w);
  });
});
