/**
 * Thread actors under a real supervisor: restart through a warm spare, brutal_kill of a thread stuck
 * in a loop, a shutdown timeout that ends in a kill, and a graceful shutdown that runs terminate.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { awaitExit, call, exit } from '../src/actor.js';
import { Exit } from '../src/exit-reason.js';
import { nodeOf, type Pid } from '../src/pid.js';
import { terminateChild, whichChildren } from '../src/supervisor/requests.js';
import { startSupervisor } from '../src/supervisor/supervisor.js';
import { threadChild } from '../src/thread/thread-actor.js';
import { collector, eventually, fixture, noThreadsLeft, waitFor } from './fixtures/thread-helpers.js';

const SERVER = fixture('thread-server');

afterEach(noThreadsLeft);

async function pidOf(sup: Pid, id: string): Promise<Pid | undefined> {
  const c = (await whichChildren(sup)).find((x) => x.id === id);
  return typeof c?.pid === 'string' && c.pid !== 'restarting' ? c.pid : undefined;
}

describe('thread actors under a supervisor', () => {
  test('a crashed thread child is restarted from the warm spare; shutdown runs terminate and drops the spare', async () => {
    const notify = collector();
    const start = threadChild(SERVER, { warmSpare: true });
    const sup = await startSupervisor({
      flags: { strategy: 'one_for_one', intensity: 3, periodMs: 5000 },
      children: [{ id: 'w', start, args: [{ count: 7, trap: true, notify: notify.pid }], shutdown: 5000 }],
    });
    const first = (await pidOf(sup, 'w'))!;
    assert.equal(await call(first, { op: 'get' }), 7);
    assert.equal(await start.warm(), true);
    const spareId = start.spareThreadId;
    // a crash inside a callback: {error, cause}; the supervisor restarts the child
    await assert.rejects(call(first, { op: 'throw', msg: 'crash' }), { code: 'ERR_CALL_SERVER_EXITED' });
    const second = (await eventually(
      () => pidOf(sup, 'w'),
      (p) => p !== undefined && p !== first,
      'the restarted child',
    )) as Pid;
    assert.equal(nodeOf(second), spareId, 'from the warm spare');
    assert.equal(await call(second, { op: 'get' }), 7, 'with the spec args');
    // graceful shutdown: the trapping gen_server's terminate runs with shutdown
    const supDown = awaitExit(sup);
    exit(sup, Exit.shutdown());
    assert.deepEqual(await supDown, Exit.shutdown());
    const t = await notify.next((m) => m.terminated === second, 'terminate of the second instance');
    assert.deepEqual(t.reason, Exit.shutdown());
    await noThreadsLeft(); // the spare went with the supervisor
    await notify.stop();
  });

  test('brutal_kill and a shutdown time-out both stop a thread stuck in a CPU loop', async () => {
    const notify = collector();
    const sup = await startSupervisor({
      children: [
        { id: 'brutal', start: threadChild(SERVER), args: [{}], shutdown: 'brutal_kill' },
        { id: 'timeout', start: threadChild(SERVER), args: [{ trap: true }], shutdown: 100 },
      ],
    });
    for (const id of ['brutal', 'timeout']) {
      const pid = (await pidOf(sup, id))!;
      await call(pid, { op: 'spin', notify: notify.pid });
      await waitFor(() => notify.msgs.length > 0, 'spinning');
      notify.msgs.length = 0;
      const down = awaitExit(pid);
      assert.equal(await terminateChild(sup, id), true);
      assert.deepEqual(await down, Exit.killed, id);
    }
    const supDown = awaitExit(sup);
    exit(sup, Exit.shutdown());
    await supDown;
    await notify.stop();
  });
});
