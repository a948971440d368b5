/**
 * The observer's life with the application: withObserver closes with the app; an observer child
 * killed outright closes its server (no socket outlives the actor) and its supervisor starts a new
 * one, announced in place of the old.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { call, exit, type Pid, serverChild, start, whichChildren } from '@trellis/core';
import { observerChild, withObserver } from '../src/index.js';
import { EventRecorder, http, idle, tempDir, waitFor } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Whether anything answers at `url` (a refused connection is false). */
async function answers(url: string): Promise<boolean> {
  try {
    await http(`${url}api/snapshot`);
    return true;
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'ECONNREFUSED');
    return false;
  }
}

describe('observer lifecycle', () => {
  test('withObserver shows a started application and closes when it ends', async () => {
    const app = await start(
      { children: [{ id: 'a', start: serverChild(idle) }] },
      { handleSignals: false, exitProcess: false },
    );
    const obs = await withObserver(app, { log: false, announce: false });
    const snap = await obs.refresh();
    assert.equal(snap.tree?.pid, app.pid);
    assert.deepEqual(
      snap.tree?.children?.map((c) => [c.id, c.startedAtExact]),
      [['a', false]],
      'started before the observer watched: its uptime is a lower bound',
    );
    assert.equal(await answers(obs.url), true);
    await app.stop();
    // The close follows app.done.
    await waitFor(async () => !(await answers(obs.url)), 'the port to refuse after the app ended');
  });

  test('an observer child killed outright closes its server and is replaced, announce file included', async () => {
    const dir = tempDir('lifecycle');
    dirs.push(dir);
    const rec = new EventRecorder();
    const app = await start(
      { children: [observerChild({ log: false, announce: dir }), { id: 'a', start: serverChild(idle) }] },
      { handleSignals: false, exitProcess: false },
    );
    try {
      const first = (await whichChildren(app.pid)).find((c) => c.id === 'trellis-observer')!.pid as Pid;
      const info = await call<{ url: string; token: string }>(first, 'info');
      const announced = () => readdirSync(dir).filter((f) => f.startsWith('observer-'));
      assert.equal(announced().length, 1);
      assert.equal(JSON.parse(readFileSync(join(dir, announced()[0]!), 'utf8')).url, info.url);
      assert.equal(await answers(info.url), true);

      const restarted = rec.next(
        (e) => e.type === 'child_restarted' && e.id === 'trellis-observer',
        'observer restarted',
      );
      exit(first, 'kill');
      await restarted;
      const second = (await whichChildren(app.pid)).find((c) => c.id === 'trellis-observer')!.pid as Pid;
      const info2 = await call<{ url: string; token: string }>(second, 'info');
      assert.notEqual(info2.url, info.url);
      assert.notEqual(info2.token, info.token, 'a new instance has a new token');
      assert.equal(await answers(info2.url), true);
      // close() ran from the exit monitor: the old port refuses and only the new file is left.
      await waitFor(async () => !(await answers(info.url)), 'the old port to refuse');
      assert.deepEqual(
        announced().map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')).url),
        [info2.url],
      );
    } finally {
      await app.stop();
      rec.close();
    }
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('observer-')),
      [],
    );
  });
});
