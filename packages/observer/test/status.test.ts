/**
 * The observer shows a selected actor's state through getStatus, behind the control token: refused
 * without it, and with it the state as the server's formatStatus shows it (secrets hidden). Real
 * HTTP against a real tree.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type Application,
  defineServer,
  type Pid,
  reply,
  serverChild,
  start,
  whichChildren,
} from '@trellis/core';
import { type ObserverHandle, startObserver } from '../src/index.js';
import { idle, postJson } from './helpers.js';

let app: Application;
let obs: ObserverHandle;

const vault = defineServer({
  init: () => ({ user: 'svc', password: 'hunter2', hits: 3 }),
  handleCall: (_req: unknown, _from, s) => reply(s.hits, s),
  formatStatus: (st) => ({ ...st, state: { ...st.state, password: '***' } }),
});

before(async () => {
  app = await start(
    {
      children: [
        { id: 'vault', start: serverChild(vault) },
        { id: 'plain', start: serverChild(idle) },
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
});

async function pidOf(id: string): Promise<Pid> {
  const c = (await whichChildren(app.pid)).find((x) => x.id === id);
  return c!.pid as Pid;
}

test('status of a selected actor: refused without the token, its formatStatus view with it', async () => {
  const pid = await pidOf('vault');
  const url = `${obs.url}api/status`;
  const refused = await postJson(url, { pid });
  assert.equal(refused.status, 403);
  assert.ok(!JSON.stringify(refused.body).includes('svc'));
  const ok = await postJson(url, { pid }, obs.token);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const st = (ok.body as { status: { state: unknown; behaviour: string; pid: string } }).status;
  assert.equal(st.pid, pid);
  assert.equal(st.behaviour, 'gen_server');
  assert.deepEqual(st.state, { user: 'svc', password: '***', hits: 3 });
  assert.ok(!JSON.stringify(ok.body).includes('hunter2'));
});

test('status of a pid outside the tree is 404; of a supervisor (no sys requests) it is refused', async () => {
  const url = `${obs.url}api/status`;
  const outside = await postJson(url, { pid: '<0.999999>' }, obs.token);
  assert.equal(outside.status, 404);
  const sup = await postJson(url, { pid: app.pid }, obs.token);
  assert.equal(sup.status, 409);
  assert.equal((await postJson(url, { pid: await pidOf('plain') }, obs.token)).status, 200);
});
