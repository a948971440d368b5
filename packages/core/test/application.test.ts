/**
 * `start(tree)` as an application: run in its own Node process (fixtures app-*.ts), stopped by a real
 * SIGTERM / SIGINT, it shuts the tree down in order honouring shutdown specs and exits with code 0; a
 * top supervisor that reaches its intensity makes the process exit non-zero. Real time and real
 * signals are the subject here, so the test waits for the child's output and exit (bounded).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn as spawnChild } from 'node:child_process';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Exit, serverChild, start } from '../src/index.js';
import { assertClean, recorder } from './fixtures/app-otp-kit.js';

const ORDERED = fileURLToPath(new URL('./fixtures/app-ordered.js', import.meta.url));
const CRASH = fileURLToPath(new URL('./fixtures/app-crash.js', import.meta.url));
const INFLIGHT = fileURLToPath(new URL('./fixtures/app-inflight.js', import.meta.url));
const LIMIT_MS = 20_000;

const children: ChildProcess[] = [];

afterEach(() => {
  // A failed assertion must not leave the application running.
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Run {
  readonly child: ChildProcess;
  readonly stdout: () => string[];
  readonly stderr: () => string;
  /** Resolves when a stdout line equals `text`. */
  line(text: string): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runApp(file: string, ...args: string[]): Run {
  const child = spawnChild(process.execPath, [file, 'trellis-test-marker', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const lines = () => out.split('\n').filter((l) => l.length > 0);
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      if (lines().includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const bounded = <T>(p: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} not seen within ${LIMIT_MS} ms; stdout: ${out}; stderr: ${err}`)),
        LIMIT_MS,
      );
    });
    return Promise.race([p, limit]).finally(() => clearTimeout(timer));
  };
  return {
    child,
    stdout: lines,
    stderr: () => err,
    line: (text) =>
      bounded(
        new Promise<void>((resolve) => {
          if (lines().includes(text)) resolve();
          else waiters.push({ text, resolve });
        }),
        `line "${text}"`,
      ),
    exited: bounded(exited, 'exit'),
  };
}

const ORDERLY_STOP = [
  'ready',
  // Reverse start order: fast (brutal_kill: no terminate), stuck (killed after its 150 ms),
  // cache (a supervisor: its own children in reverse order first), then db (slow but in time).
  'exit fast killed',
  'stuck terminating',
  'exit stuck killed',
  'terminate c2 shutdown',
  'terminate c1 shutdown',
  'exit cache shutdown',
  'terminate db shutdown',
  'exit db shutdown',
];

describe('application', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} shuts the tree down in order, honouring shutdown specs, and exits with code 0`, async () => {
      const app = runApp(ORDERED);
      await app.line('ready');
      app.child.kill(signal);
      assert.deepEqual(await app.exited, { code: 0, signal: null });
      assert.deepEqual(app.stdout(), ORDERLY_STOP);
      assert.equal(app.stderr(), '');
    });
  }

  test('a top supervisor that reaches its intensity makes the process exit non-zero', async () => {
    const app = runApp(CRASH);
    const { code, signal } = await app.exited;
    assert.equal(signal, null);
    assert.equal(code, 1);
    assert.deepEqual(app.stdout(), ['start worker', 'start worker']);
    assert.match(app.stderr(), /top supervisor <\d+\.\d+> exited: shutdown/);
  });

  test('Ctrl-C with a call in flight: the call fails in one line, no stack trace, exit code 0', async () => {
    const app = runApp(INFLIGHT, 'signal');
    await app.line('ready');
    app.child.kill('SIGINT');
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.deepEqual(app.stdout(), ['ready']);
    const err = app.stderr().trim().split('\n');
    assert.equal(err.length, 1, app.stderr());
    assert.match(
      err[0]!,
      /^trellis: a call in flight failed as the application stopped on SIGINT: ERR_CALL_SERVER_EXITED: /,
    );
  });

  test('app.stop() resolves and the program carries on (the process is not exited)', async () => {
    const app = runApp(INFLIGHT, 'stop');
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.deepEqual(app.stdout(), ['after stop']);
    assert.equal(app.stderr(), '');
  });

  test('in-process: stop() shuts the tree down and resolves with shutdown', async () => {
    const log: string[] = [];
    const app = await start(
      { children: [{ id: 'a', start: serverChild(recorder(log)), args: ['a', { trap: true }] }] },
      { handleSignals: false, exitProcess: false },
    );
    assert.deepEqual(await app.stop(), Exit.shutdown());
    assert.deepEqual(await app.done, Exit.shutdown());
    assert.deepEqual(log, ['init a', 'terminate a shutdown']);
    assert.equal(process.exitCode, undefined);
    assertClean();
  });
});
