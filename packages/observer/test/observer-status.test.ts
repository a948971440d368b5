/**
 * What the observer child's crash report and status show (its formatStatus, OTP's format_status/1):
 * the URL and port the page is served on, never the control token, which lets its holder kill and
 * restart processes. The child is made to crash through a real path (a cast it does not take:
 * ERR_NO_HANDLER) in a real tree; its status is read through the page itself, with the token.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type Application,
  call,
  cast,
  getLogger,
  type Pid,
  serverChild,
  setLogger,
  start,
  type TrellisLogger,
  whichChildren,
} from '@trellis/core';
import { observerChild } from '../src/index.js';
import { idle, postJson, waitFor } from './helpers.js';

const logged: Record<string, unknown>[] = [];
function captureLogger(bindings: Record<string, unknown> = {}): TrellisLogger {
  const at = () => (fields: Record<string, unknown>, msg?: string) => {
    logged.push({ ...bindings, ...fields, msg });
  };
  return {
    trace: at(),
    debug: at(),
    info: at(),
    warn: at(),
    error: at(),
    fatal: at(),
    child: (b) => captureLogger({ ...bindings, ...b }),
  };
}

let app: Application;
const previous = getLogger();
before(async () => {
  setLogger(captureLogger());
  app = await start(
    { children: [observerChild({ log: false, announce: false }), { id: 'a', start: serverChild(idle) }] },
    { handleSignals: false, exitProcess: false },
  );
});
after(async () => {
  await app?.stop();
  setLogger(previous);
});

async function observerPid(): Promise<Pid> {
  return (await whichChildren(app.pid)).find((c) => c.id === 'trellis-observer')!.pid as Pid;
}

test("the observer child's status and crash report show its URL and port, not its control token", async () => {
  const pid = await observerPid();
  const info = await call<{ url: string; port: number; token: string }>(pid, 'info');
  assert.ok(info.token.length >= 16);

  const page = await postJson(`${info.url}api/status`, { pid }, info.token);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  assert.ok(!JSON.stringify(page.body).includes(info.token), 'the token is in the status the page shows');
  assert.deepEqual(page.body.status.state, { url: info.url, port: info.port });

  cast(pid, { op: 'no such cast' });
  const report = await waitFor(
    () => logged.find((r) => r.report === 'gen_server_terminate' && r.actor === pid),
    'the terminate report of the observer',
  );
  assert.ok(!JSON.stringify(logged).includes(info.token), 'the token is in the log');
  assert.deepEqual(report.state, { url: info.url, port: info.port });
  assert.match(String(report.reason), /ERR_NO_HANDLER|handleCast/);
  // Its supervisor replaces it (a new server, a new token) before the app stops.
  await waitFor(async () => (await observerPid()) !== pid, 'the restarted observer');
});
