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
  createMemoryLogger,
  getLogger,
  type Pid,
  serverChild,
  setLogger,
  start,
  whichChildren,
} from '@trellis/core';
import { observerChild } from '../src/index.js';
import { idle, postJson, waitFor } from './helpers.js';

/** Every record Trellis logs (setLogger), kept in memory. */
const log = createMemoryLogger();

let app: Application;
const previous = getLogger();
before(async () => {
  setLogger(log);
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
    () =>
      log.records.find((r) => r.fields.report === 'gen_server_terminate' && r.fields.actor === pid)?.fields,
    'the terminate report of the observer',
  );
  assert.ok(!JSON.stringify(log.records).includes(info.token), 'the token is in the log');
  assert.deepEqual(report.state, { url: info.url, port: info.port });
  assert.match(String(report.reason), /ERR_NO_HANDLER|handleCast/);
  // Its supervisor replaces it (a new server, a new token) before the app stops.
  await waitFor(async () => (await observerPid()) !== pid, 'the restarted observer');
});
