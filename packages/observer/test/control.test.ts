/**
 * Control over real HTTP against a real tree: refused without the token (and with a wrong one),
 * carried out with the right one, and only on processes of the observed tree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Application,
  type Pid,
  serverChild,
  start,
  supervisorChild,
  whichChildren,
} from '@trellis/core';
import { type ObserverHandle, startObserver } from '../src/index.js';
import { EventRecorder, http, idle, postForm, postJson } from './helpers.js';

let app: Application;
let obs: ObserverHandle;
let rec: EventRecorder;

async function childOf(sup: Pid | string, id: string): Promise<{ pid: Pid; restarts: number }> {
  const c = (await whichChildren(sup)).find((x) => x.id === id);
  assert.ok(c && typeof c.pid === 'string' && c.pid !== 'restarting', `child ${id} is running`);
  return { pid: c.pid as Pid, restarts: c.restarts };
}

before(async () => {
  rec = new EventRecorder();
  app = await start(
    {
      children: [
        { id: 'a', start: serverChild(idle) },
        {
          id: 'sub',
          type: 'supervisor',
          start: supervisorChild({ children: [{ id: 'b', start: serverChild(idle) }] }),
        },
        { id: 'temp', start: serverChild(idle), restart: 'temporary' },
      ],
    },
    { handleSignals: false, exitProcess: false },
  );
  obs = await startObserver({ root: app.pid, log: false, announce: false });
  await obs.refresh();
});

after(async () => {
  await obs?.close();
  await app?.stop();
  rec?.close();
});

describe('observer control', () => {
  test('refuses a kill without the token, with a wrong token or a wrong form field, and does nothing', async () => {
    const before = await childOf(app.pid, 'a');
    const kill = `${obs.url}api/kill`;
    const wrongSameLength = obs.token.slice(0, -1) + (obs.token.endsWith('A') ? 'B' : 'A');
    const answers = [
      await postJson(kill, { pid: before.pid }),
      await postJson(kill, { pid: before.pid }, ''),
      await postJson(kill, { pid: before.pid }, wrongSameLength),
      await postJson(kill, { pid: before.pid }, `${obs.token}x`),
      await postJson(kill, { pid: before.pid, token: wrongSameLength }),
      await postForm(kill, { pid: before.pid, token: 'not-the-token-at-all' }),
      await postForm(kill, { pid: before.pid }),
    ];
    for (const a of answers) {
      assert.equal(a.status, 403);
      assert.equal(a.body.error.code, 'ERR_OBSERVER_FORBIDDEN');
    }
    // whichChildren is answered after the supervisor handled every EXIT already in its mailbox, so
    // a kill that had got through would show here as a new pid.
    const after = await childOf(app.pid, 'a');
    assert.deepEqual(after, before);
    assert.equal(rec.events.filter((e) => e.type === 'child_exited' && e.pid === before.pid).length, 0);
  });

  test('kills with the right token (header, and form field): the supervisor restarts the child', async () => {
    const a = await childOf(app.pid, 'a');
    const restarted = rec.next((e) => e.type === 'child_restarted' && e.id === 'a', 'a restarted');
    const r = await postJson(`${obs.url}api/kill`, { pid: a.pid }, obs.token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.killed, a.pid);
    await restarted;
    const a2 = await childOf(app.pid, 'a');
    assert.notEqual(a2.pid, a.pid);
    assert.equal(a2.restarts, a.restarts + 1);

    const sub = (await childOf(app.pid, 'sub')).pid;
    const b = await childOf(sub, 'b');
    await obs.refresh();
    const restartedB = rec.next((e) => e.type === 'child_restarted' && e.id === 'b', 'b restarted');
    const f = await postForm(`${obs.url}api/kill`, { pid: b.pid, token: obs.token });
    assert.equal(f.status, 200, JSON.stringify(f.body));
    await restartedB;
    const b2 = await childOf(sub, 'b');
    assert.notEqual(b2.pid, b.pid);
    assert.equal(b2.restarts, b.restarts + 1);
  });

  test('restart needs the token; with it the child is terminated and started again', async () => {
    const a = await childOf(app.pid, 'a');
    const denied = await postJson(`${obs.url}api/restart`, { supervisor: app.pid, id: 'a' });
    assert.equal(denied.status, 403);
    assert.deepEqual(await childOf(app.pid, 'a'), a);

    const terminated = rec.next((e) => e.type === 'child_terminated' && e.id === 'a', 'a terminated');
    const r = await postJson(`${obs.url}api/restart`, { supervisor: app.pid, id: 'a' }, obs.token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ev = await terminated;
    assert.equal(ev.type === 'child_terminated' ? ev.pid : undefined, a.pid);
    const a2 = await childOf(app.pid, 'a');
    assert.equal(r.body.pid, a2.pid);
    assert.notEqual(a2.pid, a.pid);
  });

  test('with the token, refuses what is not a child of the tree, the root, the temporary restart and bad requests', async () => {
    const t = obs.token;
    const root = await postJson(`${obs.url}api/kill`, { pid: app.pid }, t);
    assert.equal(root.status, 409);
    assert.equal(root.body.error.code, 'ERR_OBSERVER_CONTROL_REFUSED');
    const stranger = await postJson(`${obs.url}api/kill`, { pid: '<0.999999>' }, t);
    assert.equal(stranger.status, 404);
    assert.equal(stranger.body.error.code, 'ERR_OBSERVER_NOT_IN_TREE');
    const junk = await postJson(`${obs.url}api/kill`, { pid: 'process 12' }, t);
    assert.equal(junk.status, 400);
    assert.equal(junk.body.error.code, 'ERR_OBSERVER_BAD_REQUEST');
    const temp = await postJson(`${obs.url}api/restart`, { supervisor: app.pid, id: 'temp' }, t);
    assert.equal(temp.status, 409);
    const get = await http(`${obs.url}api/kill`);
    assert.equal(get.status, 405);
    assert.equal((await childOf(app.pid, 'temp')).restarts, 0);
  });

  test('binds only to 127.0.0.1 and answers only requests addressed to it', async () => {
    for (const host of ['0.0.0.0', 'localhost', '::', '192.168.1.1']) {
      await assert.rejects(startObserver({ root: app.pid, host, log: false, announce: false }), (e: any) => {
        assert.equal(e.code, 'ERR_OBSERVER_HOST_REFUSED');
        assert.match(e.message, /127\.0\.0\.1/);
        return true;
      });
    }
    assert.match(obs.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const rebound = await http(`${obs.url}api/snapshot`, { headers: { host: `evil.example:${obs.port}` } });
    assert.equal(rebound.status, 421);
    const foreign = await http(`${obs.url}api/kill`, {
      method: 'POST',
      headers: {
        origin: 'http://evil.example',
        'x-trellis-token': obs.token,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ pid: (await childOf(app.pid, 'a')).pid }),
    });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, 'ERR_OBSERVER_BAD_ORIGIN');
  });

  test('a token given in the options must be long enough', async () => {
    await assert.rejects(startObserver({ root: app.pid, token: 'short', log: false }), {
      code: 'ERR_INVALID_OBSERVER_OPTIONS',
    });
    const own = await startObserver({
      root: app.pid,
      token: 'a-token-of-my-own-1234',
      log: false,
      announce: false,
    });
    try {
      assert.equal(own.token, 'a-token-of-my-own-1234');
      const r = await postJson(`${own.url}api/kill`, { pid: app.pid }, 'a-token-of-my-own-1234');
      assert.equal(r.status, 409); // past the token check, stopped by the root rule
    } finally {
      await own.close();
    }
  });
});
