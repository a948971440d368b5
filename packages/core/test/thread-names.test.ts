/**
 * Issue 18's user path: `threadChild(url, { name })` in a tree, then `call(name)` from the main
 * thread. It once failed with ERR_NOPROC and a hint pointing the wrong way; names now resolve from
 * every thread, and a name nobody holds says so without claiming anything about threads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { awaitExit, call, exit } from '../src/actor.js';
import { Exit } from '../src/exit-reason.js';
import { startSupervisor } from '../src/supervisor/supervisor.js';
import { threadChild } from '../src/thread/thread-actor.js';
import { eventually, fixture, noThreadsLeft } from './fixtures/thread-helpers.js';

const SERVER = fixture('thread-server');

describe('thread actor names, as a user calls them', () => {
  test('call(name) from the main thread reaches a thread actor started with { name }', async () => {
    const sup = await startSupervisor({
      flags: { strategy: 'one_for_one', intensity: 1, periodMs: 5000 },
      children: [
        { id: 'w', start: threadChild(SERVER, { name: 'counter-in-thread' }), args: [{ count: 3 }] },
      ],
    });
    try {
      // The name reaches the main thread's directory asynchronously after the start: wait for it.
      const n = await eventually(
        () => call('counter-in-thread', { op: 'get' }).catch(() => undefined),
        (v) => v === 3,
        'the thread actor answering by name',
      );
      assert.equal(n, 3);
      await assert.rejects(call('nobody-holds-this-name', { op: 'get' }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_NOPROC');
        assert.match(e.message, /no process is registered under that name, in any thread/);
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
