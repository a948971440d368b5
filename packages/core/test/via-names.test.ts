/**
 * `{ via, name }` names (OTP's {via, Module, Name}): call, cast, send, whereisVia and the name option
 * of startServer / serverChild go through a ViaRegistry. The registry here is core's LocalViaRegistry,
 * a real one; the cluster's registry (@trellis/cluster) plugs into the same interface.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  awaitExit,
  type CallError,
  call,
  cast,
  defineServer,
  Exit,
  exit,
  LocalViaRegistry,
  NameTakenError,
  noreply,
  type Pid,
  registerViaRegistry,
  reply,
  send,
  serverChild,
  spawn,
  startServer,
  startSupervisor,
  type TrellisError,
  unregisterViaRegistry,
  whereisVia,
} from '../src/index.js';
import { assertClean, childPid, kill, stopSup } from './fixtures/app-otp-kit.js';

afterEach(() => {
  unregisterViaRegistry('test');
  assertClean();
});

const counter = defineServer({
  init: (_ctx, start: number) => start,
  handleCall: (req: 'get', _from, n: number) => reply(req === 'get' ? n : -1, n),
  handleCast: (msg: 'inc', n: number) => noreply(msg === 'inc' ? n + 1 : n),
  handleInfo: (msg: unknown, n: number) => noreply(msg === 'bump' ? n + 10 : n),
});

describe('{ via, name }', () => {
  test('call, cast, send and whereisVia reach a server started under a via name', async () => {
    const reg = new LocalViaRegistry();
    registerViaRegistry('test', reg);
    const name = { via: 'test', name: 'counter' } as const;
    const pid = (await startServer(counter, [1], { name })) as Pid;
    assert.equal(await whereisVia(name), pid);
    assert.equal(await reg.whereisName('counter'), pid);
    cast(name, 'inc');
    await send(name, 'bump');
    assert.equal(await call(name, 'get'), 12);
    // The registry object itself works as `via` too.
    assert.equal(await call({ via: reg, name: 'counter' }, 'get'), 12);
    await kill(pid);
    // The name is unregistered when its holder exits.
    assert.equal(await whereisVia(name), undefined);
    await assert.rejects(call(name, 'get', 100), (e: CallError) => e.code === 'ERR_NOPROC');
    await assert.rejects(send(name, 'x'), (e: TrellisError) => e.code === 'ERR_NOPROC');
    cast(name, 'inc'); // cast never fails
  });

  test('a taken via name fails the start with ERR_NAME_TAKEN naming the holder, before init runs', async () => {
    registerViaRegistry('test', new LocalViaRegistry());
    const name = { via: 'test', name: 'one' };
    const first = (await startServer(counter, [0], { name })) as Pid;
    let inits = 0;
    const second = defineServer({
      init: () => {
        inits++;
        return 0;
      },
    });
    await assert.rejects(startServer(second, [], { name }), (e: NameTakenError) => {
      assert.ok(e instanceof NameTakenError);
      assert.equal(e.pid, first);
      assert.match(e.message, new RegExp(first.replace(/[<>.]/g, '\\$&')));
      return true;
    });
    assert.equal(inits, 0);
    await kill(first);
  });

  test('an unknown registry key is ERR_UNKNOWN_VIA_REGISTRY', async () => {
    const name = { via: 'nope', name: 'x' };
    await assert.rejects(call(name, 'get'), (e: TrellisError) => e.code === 'ERR_UNKNOWN_VIA_REGISTRY');
    await assert.rejects(send(name, 'x'), (e: TrellisError) => e.code === 'ERR_UNKNOWN_VIA_REGISTRY');
    await assert.rejects(whereisVia(name), (e: TrellisError) => e.code === 'ERR_UNKNOWN_VIA_REGISTRY');
    await assert.rejects(startServer(counter, [0], { name }), (e: TrellisError) => {
      assert.equal(e.code, 'ERR_UNKNOWN_VIA_REGISTRY');
      return true;
    });
  });

  test('a supervised child with a via name is registered again after each restart', async () => {
    registerViaRegistry('test', new LocalViaRegistry());
    const name = { via: 'test', name: 'child' };
    const sup = await startSupervisor({
      children: [{ id: 'c', start: serverChild(counter, { name }), args: [5] }],
    });
    const first = await childPid(sup, 'c');
    assert.equal(await whereisVia(name), first);
    const gone = awaitExit(first);
    // An actor calls through the via name too.
    const caller = spawn(async (ctx) => ctx.send(ctx.self, await ctx.call(name, 'get')));
    assert.deepEqual(await awaitExit(caller), Exit.normal);
    exit(first, Exit.error(new Error('crash')));
    await gone;
    let second: Pid | undefined;
    for (let i = 0; i < 100 && (second === undefined || second === first); i++) {
      await new Promise((r) => setImmediate(r));
      second = await whereisVia(name);
    }
    assert.ok(second !== undefined && second !== first);
    assert.equal(second, await childPid(sup, 'c'));
    assert.equal(await call(name, 'get'), 5);
    assert.deepEqual(await stopSup(sup), Exit.shutdown());
    assert.equal(await whereisVia(name), undefined);
  });
});
