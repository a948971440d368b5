/**
 * `pnpm trellis status` as a real process, against a real registry directory: it finds a running
 * observer through its announce file (text and JSON), reads the persisted registry when no observer
 * runs, and reports an observer URL that does not answer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type Application,
  type ProcessHandle,
  serverChild,
  spawnProcess,
  start,
  supervisorChild,
} from '@trellis/core';
import { healthMonitorChild, LmdbLeaseStore, monitoredChild } from '@trellis/health';
import { Registry } from '@trellis/registry';
import { observerChild } from '../src/index.js';
import { beater } from './fixtures/beater.js';
import { CLI, idle, tempDir } from './helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node scripts/trellis-cli.mjs ...args`, the way `pnpm trellis` runs it, in a separate process. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        TRELLIS_HOME: undefined,
        TRELLIS_OBSERVER_URL: undefined,
        INIT_CWD: undefined,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`trellis ${args.join(' ')} did not finish`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const quiet = { info: () => {}, warn: () => {} };
let dir: string;
let registry: Registry;
let sleeper: ProcessHandle;
let app: Application | undefined;
let leases: LmdbLeaseStore;

before(async () => {
  dir = tempDir('status');
  registry = await Registry.open({ dir, logger: quiet, graceMs: 1000 });
  sleeper = await spawnProcess(
    process.execPath,
    ['-e', 'setInterval(() => {}, 1e9)', 'trellis-test-marker'],
    {
      role: 'test',
      name: 'sleeper',
    },
  );
  // A lease held in the same directory, by another holder than any process here.
  leases = LmdbLeaseStore.open({ dir });
  const grant = await leases.grant('leader', { id: 'holder-1', label: 'status-test' }, 600_000);
  assert.equal(grant.granted, true);
  app = await start(
    {
      children: [
        // The announce file goes to the registry's directory by default.
        observerChild({ registry, log: false }),
        healthMonitorChild({ dir, flushIntervalMs: 50 }),
        monitoredChild({ id: 'beater', start: serverChild(beater), args: [50] }, { intervalMs: 50 }),
        { id: 'worker-a', start: serverChild(idle) },
        {
          id: 'team',
          type: 'supervisor',
          start: supervisorChild({ children: [{ id: 'worker-b', start: serverChild(idle) }] }),
        },
      ],
    },
    { handleSignals: false, exitProcess: false },
  );
});

after(async () => {
  await app?.stop();
  await leases?.close();
  await registry?.stopAll();
  await registry?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pnpm trellis status', () => {
  test('finds the running observer through its announce file and prints the tree as text', async () => {
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('observer-')).length, 1);
    const r = await cli(['status', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /supervision tree/);
    assert.match(r.stdout, new RegExp(`^  root  ${reEscape(app!.pid)}  supervisor  running`, 'm'));
    assert.match(r.stdout, /├─ worker-a {2}<\d+\.\d+> {2}worker {2}running {2}restarts 0 {2}up /);
    assert.match(
      r.stdout,
      /└─ team {2}<\d+\.\d+> {2}supervisor {2}running {2}one_for_one .*\n +└─ worker-b {2}<\d+\.\d+> {2}worker {2}running {2}restarts 0/,
    );
    assert.match(r.stdout, /trellis-observer .*\[observer\]/);
    assert.match(r.stdout, new RegExp(`alive +pid ${sleeper.pid} +test/sleeper`));
    assert.match(r.stdout, /recent events/);
  });

  test('--json gives the same snapshot as JSON, also found through TRELLIS_HOME', async () => {
    const r = await cli(['status', '--json'], { TRELLIS_HOME: dir });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.source, 'observer');
    assert.equal(out.snapshot.tree.pid, app!.pid);
    assert.deepEqual(
      out.snapshot.tree.children.map((c: any) => c.id),
      ['trellis-observer', 'trellis-health', 'beater', 'worker-a', 'team'],
    );
    assert.equal(out.snapshot.tree.children[4].children[0].id, 'worker-b');
    const p = out.snapshot.registry.items.find((x: any) => x.pid === sleeper.pid);
    assert.equal(p.status, 'alive');
    assert.equal(p.runId, registry.runId);
    // --url reaches the same observer directly.
    const direct = JSON.parse((await cli(['status', '--json', '--url', out.url])).stdout);
    assert.equal(direct.snapshot.tree.pid, app!.pid);
  });

  test('without a running observer, prints the persisted registry, heartbeat records and leases', async () => {
    const beaterPid = (
      await cli(['status', '--dir', dir, '--json']).then((r) => JSON.parse(r.stdout))
    ).snapshot.tree.children.find((c: any) => c.id === 'beater').pid;
    await app!.stop();
    app = undefined;
    assert.equal(
      readdirSync(dir).filter((f) => f.startsWith('observer-')).length,
      0,
      'the announce file is removed on close',
    );
    const text = await cli(['status', '--dir', dir]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /no running observer is announced/);
    assert.match(text.stdout, new RegExp(`run ${reEscape(registry.runId)}  host ${process.pid} alive`));
    assert.match(text.stdout, new RegExp(`alive +pid ${sleeper.pid} +test/sleeper`));
    assert.match(text.stdout, new RegExp(`beater  ${reEscape(beaterPid)}  STOPPED`));
    assert.match(text.stdout, /leader {2}holder status-test \(holder-1\) {2}epoch 1 {2}expires in /);
    const json = JSON.parse((await cli(['status', '--dir', dir, '--json'])).stdout);
    assert.equal(json.source, 'persisted');
    assert.equal(json.registry.exists, true);
    assert.deepEqual(
      json.registry.runs.map((r: any) => [r.runId, r.host]),
      [[registry.runId, 'alive']],
    );
    assert.deepEqual(
      json.registry.processes.map((p: any) => [p.pid, p.status, p.name]),
      [[sleeper.pid, 'alive', 'sleeper']],
    );
    // The health monitor stopped in order after the beater: its record says stopped, not active.
    assert.equal(json.health.available, true);
    assert.deepEqual(
      json.health.records.map((h: any) => [h.id, h.pid, h.state]),
      [['beater', beaterPid, 'stopped']],
    );
    assert.equal(json.leases.available, true);
    assert.deepEqual(
      json.leases.leases.map((l: any) => [l.name, l.holder, l.epoch, l.expired]),
      [['leader', 'status-test (holder-1)', 1, false]],
    );
    // The sleeper dies: the persisted view says so.
    sleeper.kill('SIGKILL');
    await sleeper.exited;
    const gone = JSON.parse((await cli(['status', '--dir', dir, '--json'])).stdout);
    assert.equal(gone.registry.processes.length, 0, 'the record of an exited child is removed');
  });

  test('an observer URL that does not answer is an error with its code; an empty home is not', async () => {
    const port = await freePort();
    const r = await cli(['status', '--url', `http://127.0.0.1:${port}/`, '--timeout-ms', '2000']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_OBSERVER_UNREACHABLE/);
    const empty = tempDir('empty');
    try {
      const e = await cli(['status', '--dir', empty]);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /no registry at/);
      assert.ok(!existsSync(`${empty}/registry.mdb`), 'status never creates a registry');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const bad = await cli(['status', '--bogus']);
    assert.equal(bad.code, 2);
  });
});

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\<>]/g, '\\$&');
}

/** A port nothing listens on (taken from the OS, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
