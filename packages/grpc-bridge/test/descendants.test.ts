/**
 * Issue 13, defect 1: a tool's own subprocesses outlived a crashed host. A tool starts `sleep 1000`
 * three ways: a plain Popen child, one in a new session (setsid), and a double-forked orphan.
 * After kill -9 of the host, kill -9 of the worker, or an orderly stop, every one of them must be
 * gone: within 1 s of a kill, and by the time an orderly stop resolves. Each case runs with a cgroup
 * per worker (where cgroup v2 is writable, as root here) and without (TRELLIS_WORKER_CGROUPS=off:
 * the worker as child subreaper plus the host's environment-tag scan).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ToolPool } from '../src/index.js';
import { alive, openTestRun, waitFor } from './helpers.js';

const RELIABILITY_TOOLS = fileURLToPath(new URL('../../test/fixtures/reliability_tools.py', import.meta.url));
const HOST = fileURLToPath(new URL('./fixtures/descendants-host.js', import.meta.url));

interface Started {
  readonly host: ChildProcess;
  readonly worker: number;
  readonly descendants: number[];
  readonly lines: AsyncIterator<string>;
  readonly dir: string;
}

async function startHost(cgroups: boolean): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-desc-'));
  const host = spawn(
    process.execPath,
    [HOST, dir, RELIABILITY_TOOLS, join(dir, 'pids'), 'trellis-test-marker'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, TMPDIR: dir, ...(cgroups ? {} : { TRELLIS_WORKER_CGROUPS: 'off' }) },
    },
  );
  const lines = createInterface({ input: host.stdout! })[Symbol.asyncIterator]();
  const first = await Promise.race([
    lines.next(),
    new Promise<never>((_, rej) =>
      host.once('exit', (c) => rej(new Error(`host exited with ${c} before it printed its worker`))),
    ),
  ]);
  const { worker, descendants } = JSON.parse(first.value as string) as {
    worker: number;
    descendants: number[];
  };
  assert.equal(descendants.length, 3);
  assert.ok([worker, ...descendants].every(alive), 'worker and descendants alive at start');
  return { host, worker, descendants, lines, dir };
}

/** Whatever a failed test left: SIGKILL by PID (only processes this test started). */
function cleanup(s: Started | undefined): void {
  if (s === undefined) return;
  for (const pid of [s.worker, ...s.descendants]) {
    try {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (s.host.exitCode === null && s.host.signalCode === null) s.host.kill('SIGKILL');
  rmSync(s.dir, { recursive: true, force: true });
}

async function goneWithin(pids: number[], ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  await waitFor(() => pids.every((p) => !alive(p)), what, ms);
  return performance.now() - t0;
}

for (const cgroups of [true, false]) {
  describe(cgroups ? 'with a cgroup per worker' : 'without cgroups (subreaper + environment tag)', () => {
    test('kill -9 of the host: the worker and all its descendants are gone within 1 s', async () => {
      let s: Started | undefined;
      try {
        s = await startHost(cgroups);
        process.kill(s.host.pid!, 'SIGKILL');
        await goneWithin([s.worker, ...s.descendants], 1000, 'the worker and its descendants to die');
      } finally {
        cleanup(s);
      }
    });

    test('kill -9 of the worker (host alive): its descendants are gone within 1 s', async () => {
      let s: Started | undefined;
      try {
        s = await startHost(cgroups);
        process.kill(s.worker, 'SIGKILL');
        await goneWithin(s.descendants, 1000, 'the descendants of the killed worker to die');
      } finally {
        cleanup(s);
      }
    });

    test('orderly stop: every descendant is gone when stop() resolves', async () => {
      let s: Started | undefined;
      try {
        s = await startHost(cgroups);
        s.host.stdin!.write('stop\n');
        const line = await s.lines.next();
        assert.ok(JSON.parse(line.value as string).stopped >= 0);
        const left = [s.worker, ...s.descendants].filter(alive);
        assert.deepEqual(left, [], 'alive after stop() resolved');
      } finally {
        cleanup(s);
      }
    });
  });
}

test('kill -9 of host and worker together: the next pool start on the machine sweeps the dead host’s cgroup', async (t) => {
  let s: Started | undefined;
  const run = await openTestRun();
  let pool: ToolPool | undefined;
  try {
    s = await startHost(true);
    // The worker first: with the host still alive for an instant it could clean up; so stop the
    // host (SIGSTOP), kill the worker, then kill the host. Nobody is left to reap the descendants.
    process.kill(s.host.pid!, 'SIGSTOP');
    process.kill(s.worker, 'SIGKILL');
    process.kill(s.host.pid!, 'SIGKILL');
    await waitFor(() => !alive(s!.host.pid!) && !alive(s!.worker), 'host and worker to die', 5000);
    const orphans = s.descendants.filter(alive);
    if (orphans.length === 0) {
      t.skip('no cgroup v2 here: the worker reaped nothing, nobody else could');
      return;
    }
    pool = await ToolPool.start({ name: 'sweeper', tools: [RELIABILITY_TOOLS], size: 1 });
    await goneWithin(s.descendants, 1000, 'the dead host’s descendants to be swept');
  } finally {
    await pool?.stop();
    cleanup(s);
    await run.close();
  }
});
