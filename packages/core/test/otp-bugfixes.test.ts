/**
 * Issue 17's three bugs, each with the OTP behaviour it must follow:
 * 1. a pending call with a finite time-out keeps Node alive until it settles (and only then);
 * 2. a process has one registered name (OTP's register/2 is badarg for a second one);
 * 3. monitoring a name monitors the process holding it (OTP's monitor(process, Name)).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn as spawnChild } from 'node:child_process';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AlreadyRegisteredError,
  type DownMessage,
  Exit,
  exit,
  type NameDownMessage,
  type Pid,
  register,
  spawn,
  TIMEOUT,
  unregister,
  whereis,
} from '../src/index.js';
import { assertClean, idle, kill, puppet, run } from './fixtures/app-otp-kit.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/call-keepalive.js', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  assertClean();
});

function runScript(mode: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawnChild(process.execPath, [SCRIPT, mode, 'trellis-test-marker'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out: out.trim(), err })));
}

describe('bug 1: a pending call keeps the process alive', () => {
  test('a call to a server that never replies times out even when nothing else keeps Node alive', async () => {
    const r = await runScript('silent');
    assert.equal(r.out, 'ERR_CALL_TIMEOUT', r.err);
    assert.equal(r.code, 0);
  });

  test('an answered call with a long time-out does not keep Node alive until that time-out', async () => {
    const started = performance.now();
    const r = await runScript('answered');
    assert.equal(r.out, 'answered', r.err);
    assert.equal(r.code, 0);
    // The call's time-out is 60 s: exiting well before it shows its timer no longer holds the loop.
    assert.ok(performance.now() - started < 30_000);
  });
});

describe('bug 2: one name per process', () => {
  test('registering a second name for a pid is refused and keeps the first', async () => {
    const pid = spawn(idle);
    register('a', pid);
    assert.throws(
      () => register('b', pid),
      (e: AlreadyRegisteredError) => {
        assert.ok(e instanceof AlreadyRegisteredError);
        assert.equal(e.code, 'ERR_ALREADY_REGISTERED');
        assert.match(e.message, /already registered as "a"/);
        return true;
      },
    );
    assert.equal(whereis('a'), pid);
    assert.equal(whereis('b'), undefined);
    // After unregister, another name is fine (OTP).
    unregister('a');
    register('b', pid);
    assert.equal(whereis('b'), pid);
    await kill(pid);
  });

  test('the same holds from inside the process (ctx.register)', async () => {
    const p = puppet({ name: 'first' });
    const code = await run(p, (ctx) => {
      try {
        ctx.register('second');
        return 'registered';
      } catch (e) {
        return (e as AlreadyRegisteredError).code;
      }
    });
    assert.equal(code, 'ERR_ALREADY_REGISTERED');
    assert.equal(whereis('first'), p);
    await kill(p);
  });
});

describe('bug 3: monitoring a name', () => {
  test('ctx.monitor(name) watches the live holder; its DOWN carries the name and the real reason', async () => {
    const target = spawn(idle, { name: 'n' });
    const watcher = puppet();
    const ref = await run(watcher, (ctx) => ctx.monitor('n'));
    // No DOWN yet: the process is alive (the old code delivered DOWN noproc at once).
    assert.deepEqual(await run(watcher, (ctx) => ctx.receive({ type: 'DOWN' }, 0)), TIMEOUT);
    exit(target, Exit.shutdown('bye'));
    const down = await run(watcher, (ctx) => ctx.receive<NameDownMessage>({ type: 'DOWN' }));
    assert.deepEqual(down, { type: 'DOWN', ref, name: 'n', pid: target, reason: Exit.shutdown('bye') });
    await kill(watcher);
  });

  test('monitoring an unregistered name gives DOWN noproc at once, with the name', async () => {
    const watcher = puppet();
    const down = await run(watcher, (ctx) => {
      const ref = ctx.monitor('nobody');
      return ctx.receive<NameDownMessage>({ type: 'DOWN', ref }, 0);
    });
    assert.deepEqual(
      { ...(down as NameDownMessage), ref: undefined },
      {
        type: 'DOWN',
        ref: undefined,
        name: 'nobody',
        pid: undefined,
        reason: Exit.noproc,
      },
    );
    await kill(watcher);
  });

  test('demonitor of a name monitor delivers nothing; a pid monitor still gives a plain DOWN', async () => {
    const target = spawn(idle, { name: 'm' });
    const watcher = puppet();
    const plain = await run(watcher, (ctx) => {
      ctx.demonitor(ctx.monitor('m'));
      return ctx.monitor(target as Pid);
    });
    await kill(target);
    const got = await run(watcher, (ctx) => ctx.receive<DownMessage>({ type: 'DOWN' }));
    assert.deepEqual(got, { type: 'DOWN', ref: plain, pid: target, reason: Exit.killed });
    assert.deepEqual(await run(watcher, (ctx) => ctx.receive({ type: 'DOWN' }, 0)), TIMEOUT);
    await kill(watcher);
  });
});
