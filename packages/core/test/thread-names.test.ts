/**
 * A thread actor's `name` (threadChild(url, { name })) is registered inside its own thread only, as
 * Erlang's local names are per node. Until names work across threads, calling that name from the
 * main thread fails with ERR_NOPROC, and the message must say why and what to do (issue 18: it
 * asked "is it a child of a running supervisor?", which points the wrong way).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { awaitExit, call, exit } from '../src/actor.js';
import { Exit } from '../src/exit-reason.js';
import { whichChildren } from '../src/supervisor/requests.js';
import { startSupervisor } from '../src/supervisor/supervisor.js';
import { threadChild } from '../src/thread/thread-actor.js';
import { fixture, noThreadsLeft } from './fixtures/thread-helpers.js';

const SERVER = fixture('thread-server');

describe('thread actor names', () => {
  test('calling a thread actor by its name from the main thread: ERR_NOPROC saying names are per thread', async () => {
    const sup = await startSupervisor({
      flags: { strategy: 'one_for_one', intensity: 1, periodMs: 5000 },
      children: [
        { id: 'w', start: threadChild(SERVER, { name: 'counter-in-thread' }), args: [{ count: 3 }] },
      ],
    });
    try {
      const [child] = await whichChildren(sup);
      assert.equal(await call(child!.pid as string, { op: 'get' }), 3, 'its pid works from here');
      await assert.rejects(call('counter-in-thread', { op: 'get' }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_NOPROC');
        assert.match(e.message, /Names are per thread/);
        assert.match(e.message, /call its pid, or register\(name, pid\) here/);
        return true;
      });
    } finally {
      const down = awaitExit(sup);
      exit(sup, Exit.shutdown());
      await down;
      await noThreadsLeft();
    }
  });
});
