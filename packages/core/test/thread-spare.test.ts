/** Warm spares: a pre-booted thread takes over a restart, and never leaks or holds the process up. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { awaitExit, call, exit } from '../src/actor.js';
import { systemClock } from '../src/clock.js';
import { Exit } from '../src/exit-reason.js';
import { currentNode } from '../src/node.js';
import { nodeOf, type Pid } from '../src/pid.js';
import type { StartContext } from '../src/supervisor/child-spec.js';
import { liveThreads } from '../src/thread/hub.js';
import { threadChild } from '../src/thread/thread-actor.js';
import { collector, fixture, isExit, noThreadsLeft, waitFor } from './fixtures/thread-helpers.js';

const SERVER = fixture('thread-server');

afterEach(noThreadsLeft);

function ctxFor(parent: Pid): StartContext {
  return { parent, node: currentNode(), clock: systemClock, id: 'worker' };
}

describe('thread actors: warm spares', () => {
  test('a restart is served by the ready spare, with the new args, and a new spare follows', async () => {
    const parent = collector({ trapExit: true });
    const start = threadChild(SERVER, { warmSpare: true });
    const first = (await start(ctxFor(parent.pid), { count: 1 })) as Pid;
    assert.equal(await start.warm(), true);
    const spareId = start.spareThreadId;
    assert.equal(typeof spareId, 'number');
    assert.notEqual(spareId, nodeOf(first));
    assert.equal(liveThreads(), 2, 'the actor and its spare');
    exit(first, 'kill');
    await parent.next(isExit(first), 'EXIT of the first instance');
    const second = (await start(ctxFor(parent.pid), { count: 2 })) as Pid;
    assert.equal(nodeOf(second), spareId, 'the restart took the spare');
    assert.equal(await call(second, { op: 'get' }), 2);
    // the new instance is linked to the parent like a cold start
    exit(second, Exit.shutdown());
    assert.deepEqual(
      (await parent.next(isExit(second), 'EXIT of the second instance')).reason,
      Exit.shutdown(),
    );
    await waitFor(() => start.spareThreadId !== undefined && start.spareThreadId !== spareId, 'a new spare');
    await start.dispose();
    assert.equal(start.spareThreadId, undefined);
    await noThreadsLeft();
    // after dispose starts are cold and no spare is kept
    const third = (await start(ctxFor(parent.pid), { count: 3 })) as Pid;
    assert.equal(await call(third, { op: 'get' }), 3);
    assert.equal(liveThreads(), 1);
    exit(third, 'kill');
    await parent.stop();
  });

  test('the spare is terminated when the parent (the supervisor) exits', async () => {
    const parent = collector({ trapExit: true });
    const start = threadChild(SERVER, { warmSpare: true });
    const child = (await start(ctxFor(parent.pid), {})) as Pid;
    assert.equal(await start.warm(), true);
    const childDown = awaitExit(child);
    await parent.stop(); // killed: the link takes the child down, the monitor drops the spare
    assert.deepEqual(await childDown, Exit.killed);
    await noThreadsLeft();
    assert.equal(start.spareThreadId, undefined);
  });

  test('without warmSpare nothing is kept, and warm() says so', async () => {
    const parent = collector({ trapExit: true });
    const start = threadChild(SERVER);
    assert.equal(await start.warm(), false);
    const pid = (await start(ctxFor(parent.pid), {})) as Pid;
    assert.equal(liveThreads(), 1);
    exit(pid, 'kill');
    await start.dispose();
    await parent.stop();
  });

  test('an idle spare and an ended thread do not keep the process alive', async () => {
    const script = fileURLToPath(fixture('thread-spare-exit'));
    // The marker lets the test runner's leftover check find the child if it ever survives.
    const child = spawn(process.execPath, [script, 'trellis-test-marker'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    try {
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      assert.equal(signal, null, err);
      assert.notEqual(code, 42, 'the process had to end itself: something kept it alive');
      assert.equal(code, 0, err);
      assert.deepEqual(JSON.parse(out.trim()), { ready: true, threads: 2 });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
