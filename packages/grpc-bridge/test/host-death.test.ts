/**
 * kill -9 of the host leaves no Python process: each worker sees EOF on its stdin (and the kernel's
 * parent-death signal) and exits within a second, with nobody left to stop it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { alive, BRIDGE_TOOLS, HOST_FIXTURE, SDK_TOOLS, waitFor } from './helpers.js';

test('after kill -9 of the host, every Python worker is gone within one second', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-host-'));
  const host = spawn(
    process.execPath,
    [HOST_FIXTURE, dir, '3', SDK_TOOLS, BRIDGE_TOOLS, 'trellis-test-marker'],
    // The pool's socket directory goes under TMPDIR: inside this test's directory, removed below.
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TMPDIR: dir } },
  );
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: host.stdout! });
      rl.once('line', resolve);
      host.once('exit', (code) =>
        reject(new Error(`host exited with ${code} before it printed its workers`)),
      );
    });
    const { pids } = JSON.parse(line) as { pids: number[] };
    assert.equal(pids.length, 3);
    assert.ok(pids.every((p) => alive(p)));
    const killedAt = Date.now();
    process.kill(host.pid!, 'SIGKILL');
    // Bounded at one second: the guarantee under test.
    await waitFor(() => pids.every((p) => !alive(p)), 'every worker of the killed host to exit', 1000);
    assert.ok(Date.now() - killedAt <= 1100);
  } finally {
    if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
