/**
 * The gen_statem example of the guide (fixtures/statem-connection.ts) against a real Unix socket:
 * it backs off while nobody listens, connects once a server is up, postpones requests meanwhile,
 * and reconnects after the server closes the connection. Backoff runs on a SimulatedClock.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { call, type Pid, SimulatedClock, settle, startStatem, stopServer } from '../src/index.js';
import { assertClean } from './fixtures/app-otp-kit.js';
import { Connection } from './fixtures/statem-connection.js';

afterEach(assertClean);

/** Waits until the machine reports `want` (its state changes are driven by socket events). */
async function until(pid: Pid, want: string): Promise<void> {
  // Bounded: a few seconds of event-loop turns at most.
  for (let i = 0; i < 100_000; i++) {
    if ((await call(pid, 'status')) === want) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never reached ${want}`);
}

test('a connection with backoff: disconnected -> connecting -> connected, and back after a close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trl-s17-statem-'));
  const path = join(dir, 'sock');
  const clock = new SimulatedClock();
  let server: Server | undefined;
  let pid: Pid | undefined;
  try {
    pid = (await startStatem(Connection, [path], { clock })) as Pid;
    await until(pid, 'disconnected'); // nobody listens: the first attempt failed
    // A request while disconnected is postponed, not refused.
    const sent = call(pid, { send: 'hello' }, { timeoutMs: 60_000, clock });
    server = createServer();
    const lines: string[] = [];
    const conns: Socket[] = [];
    server.on('connection', (c: Socket) => {
      conns.push(c);
      c.on('data', (d) => lines.push(...d.toString().split('\n').filter(Boolean)));
    });
    server.listen(path);
    await once(server, 'listening');
    await clock.advance(99);
    assert.equal(await call(pid, 'status'), 'disconnected'); // backoff of the first retry: 100 ms
    const accepted = once(server, 'connection');
    await clock.advance(1);
    await accepted;
    await until(pid, 'connected');
    assert.equal(await sent, 'sent');
    for (let i = 0; i < 100_000 && lines.length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines, ['hello']);
    // The server drops the connection: back to disconnected, then a retry after 100 ms (attempt 0).
    conns[0]!.destroy();
    await until(pid, 'disconnected');
    const again = once(server, 'connection');
    await clock.advance(100);
    await again;
    await until(pid, 'connected');
    await settle();
  } finally {
    if (pid !== undefined) await stopServer(pid);
    if (server !== undefined) await new Promise((r) => server!.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});
