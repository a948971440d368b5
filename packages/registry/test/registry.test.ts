import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { getProcessTracker, readProcCmdline, readProcStat, runMarker, spawnProcess } from '@trellis/core';
import {
  createRunId,
  homeTagFor,
  InvalidRegistryOptionsError,
  parseRunId,
  Registry,
  RegistryClosedError,
  RegistryStoppingError,
  RegistryStore,
  resolveRegistryDir,
  UnknownReservationError,
} from '../src/index.js';
import {
  alive,
  assertNoneLeft,
  Cleanup,
  groupMembers,
  handlesSigterm,
  memoryLogger,
  NODE_IGNORE_TERM,
  SHELL_TREE,
  waitFor,
} from './helpers.js';

const cleanup = new Cleanup();
const markers: string[] = [];
after(() => cleanup.run());

async function open(dir: string, graceMs = 300): Promise<Registry> {
  const r = await Registry.open({ dir, graceMs, logger: memoryLogger() });
  markers.push(r.marker);
  return r;
}

describe('spawnProcess through the registry', () => {
  test('a child is recorded with pid, group, start time and marker, and removed when it exits', async () => {
    const dir = cleanup.dir();
    const registry = await open(dir);
    assert.equal(getProcessTracker(), registry, 'open() installs the registry as the process tracker');
    const h = await spawnProcess('bash', SHELL_TREE, { stdio: 'ignore', role: 'tool', name: 'tree' });
    cleanup.groups.add(h.pgid);

    const [child, ...others] = registry.listChildren(registry.runId);
    assert.equal(others.length, 0);
    assert.equal(child!.status, 'alive');
    assert.equal(child!.state, 'active');
    assert.equal(child!.pid, h.pid);
    assert.equal(child!.pgid, h.pid);
    assert.equal(child!.startTime, readProcStat(h.pid)!.startTime);
    assert.equal(child!.marker, runMarker(registry.runId));
    assert.equal(child!.role, 'tool');
    assert.equal(child!.name, 'tree');
    assert.ok(readProcCmdline(h.pid)!.includes(registry.marker), 'the child carries the marker');

    // Another process sees the committed record (the file is shared, not a cache in this process).
    const reader = RegistryStore.open({ dir, logger: memoryLogger(), readOnly: true });
    assert.equal(reader.getChild(h.reservationId!)?.pid, h.pid);
    await reader.close();

    h.kill('SIGTERM');
    await h.exited;
    assert.deepEqual(registry.listChildren(registry.runId), [], 'the record is gone once exited resolves');
    await waitFor(() => groupMembers(h.pgid).length === 0, 'the grandchildren to die with the group');
    await registry.close();
    assert.equal(getProcessTracker(), undefined, 'close() uninstalls the tracker');
  });

  test('reservation writes are committed before the spawn (visible to a fresh reader at once)', async () => {
    const dir = cleanup.dir();
    const registry = await open(dir);
    const id = registry.reserve({ role: 'r', name: 'n', command: 'true', args: [] });
    const reader = RegistryStore.open({ dir, logger: memoryLogger(), readOnly: true });
    assert.equal(reader.getChild(id)?.state, 'reserved');
    registry.activate(id, { pid: 1, pgid: 1, startTime: 1 });
    reader.refresh();
    assert.equal(reader.getChild(id)?.state, 'active');
    registry.untrack(1);
    reader.refresh();
    assert.equal(reader.getChild(id), undefined, 'untrack by PID');
    await reader.close();
    await registry.close();
  });
});

describe('orderly stop', () => {
  test('stopAll kills a child that ignores SIGTERM (by SIGKILL after the grace) and a grandchild in its group', async () => {
    const dir = cleanup.dir();
    const log = memoryLogger();
    const registry = await Registry.open({ dir, graceMs: 300, logger: log });
    markers.push(registry.marker);
    const ready = join(dir, 'stubborn.ready');
    const stubborn = await spawnProcess(
      process.execPath,
      [NODE_IGNORE_TERM, `--ready-file=${ready}`, 'trellis-test-marker'],
      {
        stdio: 'ignore',
        name: 'stubborn',
      },
    );
    const tree = await spawnProcess('bash', SHELL_TREE, { stdio: 'ignore', name: 'tree' });
    cleanup.groups.add(stubborn.pgid).add(tree.pgid);
    await waitFor(() => existsSync(ready), 'the SIGTERM handler to be installed');
    await waitFor(() => groupMembers(tree.pgid).length === 3, 'the grandchildren to start');
    const grandchildren = groupMembers(tree.pgid).filter((p) => p !== tree.pid);

    const report = await registry.stopAll();
    assert.deepEqual(report.killed.map((k) => k.name).sort(), ['stubborn', 'tree']);
    assert.deepEqual(
      report.forced.map((k) => k.name),
      ['stubborn'],
      'only the child that ignored SIGTERM needed SIGKILL',
    );
    assert.deepEqual(report.survivors, []);
    // Confirmed by /proc, not by trusting the signals.
    assert.equal(alive(stubborn.pid, stubborn.startTime), false);
    for (const g of grandchildren) assert.equal(alive(g), false, `grandchild ${g} is gone`);
    assert.deepEqual(groupMembers(tree.pgid), []);
    assert.deepEqual(registry.listChildren(registry.runId), []);
    assert.equal((await stubborn.exited).signal, 'SIGKILL');
    assert.ok(log.entries.some((e) => e.message.includes('stopAll: killed 2 (1 by SIGKILL)')));
    await registry.close();
  });

  test('stopAll cancels a pending reservation: activating it afterwards is refused', async () => {
    const dir = cleanup.dir();
    const registry = await open(dir);
    const id = registry.reserve({ role: 'r', name: 'late', command: 'true', args: [] });
    const report = await registry.stopAll();
    assert.equal(report.droppedDead.length, 1, 'the reservation was cancelled');
    assert.throws(() => registry.activate(id, { pid: 1, pgid: 1, startTime: 1 }), UnknownReservationError);
    await registry.close();
  });

  test('no reservation while stopAll runs; nothing after close', async () => {
    const dir = cleanup.dir();
    const registry = await open(dir, 2000);
    const h = await spawnProcess('bash', ['-c', 'trap "" TERM; sleep 300 & wait', 'trellis-test-marker'], {
      stdio: 'ignore',
    });
    cleanup.groups.add(h.pgid);
    await waitFor(() => handlesSigterm(h.pid) && groupMembers(h.pgid).length === 2, 'the shell to trap TERM');
    const stopping = registry.stopAll({ graceMs: 200 });
    assert.throws(
      () => registry.reserve({ role: 'r', name: 'n', command: 'x', args: [] }),
      RegistryStoppingError,
    );
    await assert.rejects(spawnProcess('true', [], { stdio: 'ignore' }), RegistryStoppingError);
    const report = await stopping;
    assert.equal(report.forced.length, 1);
    // Usable again after the stop.
    const id = registry.reserve({ role: 'r', name: 'n', command: 'x', args: [] });
    registry.untrack(id);
    await registry.close();
    assert.throws(
      () => registry.reserve({ role: 'r', name: 'n', command: 'x', args: [] }),
      RegistryClosedError,
    );
    registry.untrack(id); // after close: a no-op, because exit handlers may still fire
  });

  test('close() keeps the run record while children are recorded, removes it when none are', async () => {
    const dir = cleanup.dir();
    const a = await open(dir);
    a.reserve({ role: 'r', name: 'kept', command: 'x', args: [] });
    await a.close();
    const b = await open(dir);
    const b2 = await open(dir);
    const runs = b2.listRuns().map((r) => r.runId);
    assert.ok(runs.includes(a.runId), 'a run closed with children keeps its record');
    await b2.close();
    assert.ok(!b.listRuns().some((r) => r.runId === b2.runId), 'a run closed with no children is removed');
    await b.close();
  });
});

describe('run identity and location', () => {
  test('run ids are unique across instances and embed host pid, start time and home', async () => {
    const tag = homeTagFor('/some/dir');
    const host = { pid: process.pid, startTime: readProcStat(process.pid)!.startTime };
    const ids = new Set(Array.from({ length: 2000 }, () => createRunId(tag, host)));
    assert.equal(ids.size, 2000, 'no collision even within one millisecond');
    const parts = parseRunId([...ids][0]!)!;
    assert.equal(parts.hostPid, process.pid);
    assert.equal(parts.hostStartTime, host.startTime);
    assert.equal(parts.homeTag, tag);
    assert.ok(Math.abs(parts.createdAt - Date.now()) < 60_000);
    assert.equal(parseRunId('not-a-run-id'), undefined);
    const earlier = createRunId(tag, host, Date.now() - 1000);
    assert.ok(earlier < [...ids][0]!, 'ids sort by creation time');

    const dir = cleanup.dir();
    const a = await open(dir);
    const b = await open(dir);
    assert.notEqual(a.runId, b.runId);
    await b.close();
    await a.close();
  });

  test('a runId option must be made for this process and registry', async () => {
    const dir = cleanup.dir();
    const foreign = createRunId(homeTagFor(dir), { pid: 1, startTime: 1 });
    await assert.rejects(
      Registry.open({ dir, runId: foreign, logger: memoryLogger() }),
      InvalidRegistryOptionsError,
    );
    const mine = createRunId(homeTagFor(dir));
    const r = await Registry.open({ dir, runId: mine, logger: memoryLogger() });
    assert.equal(r.runId, mine);
    await r.close();
    await assert.rejects(Registry.open({ dir, graceMs: -1 }), InvalidRegistryOptionsError);
  });

  test('location: option > TRELLIS_HOME > <cwd>/.trellis', async () => {
    assert.equal(resolveRegistryDir({ cwd: '/app', env: {} }), '/app/.trellis');
    assert.equal(resolveRegistryDir({ cwd: '/app', env: { TRELLIS_HOME: '/var/trellis' } }), '/var/trellis');
    assert.equal(resolveRegistryDir({ cwd: '/app', env: { TRELLIS_HOME: 'rel' } }), '/app/rel');
    assert.equal(resolveRegistryDir({ cwd: '/app', env: { TRELLIS_HOME: '' } }), '/app/.trellis');
    assert.equal(
      resolveRegistryDir({ cwd: '/app', dir: '/opt/x', env: { TRELLIS_HOME: '/var/t' } }),
      '/opt/x',
    );

    const home = cleanup.dir();
    const saved = process.env.TRELLIS_HOME;
    process.env.TRELLIS_HOME = home;
    try {
      const r = await open(undefined as unknown as string);
      assert.equal(r.dir, home);
      assert.ok(RegistryStore.exists(home));
      await r.close();
      const explicit = cleanup.dir();
      const r2 = await open(explicit);
      assert.equal(realpathSync(r2.dir), realpathSync(explicit));
      await r2.close();
    } finally {
      if (saved === undefined) delete process.env.TRELLIS_HOME;
      else process.env.TRELLIS_HOME = saved;
    }
    assert.equal(join(resolveRegistryDir({ env: {} })), join(process.cwd(), '.trellis'));
  });

  test('attach writes children of the same run from another registry handle and leaves the run record', async () => {
    const dir = cleanup.dir();
    const main = await open(dir);
    const worker = await Registry.attach({
      dir,
      runId: main.runId,
      installTracker: false,
      logger: memoryLogger(),
    });
    const h = await spawnProcess('bash', SHELL_TREE, { stdio: 'ignore', tracker: worker });
    cleanup.groups.add(h.pgid);
    assert.equal(main.listChildren(main.runId)[0]?.pid, h.pid, 'the main registry sees the worker’s child');
    await worker.close();
    assert.ok(main.listRuns().some((r) => r.runId === main.runId));
    const report = await main.stopAll();
    assert.equal(report.killed[0]?.pid, h.pid);
    await h.exited;
    await main.close();
    await assert.rejects(
      Registry.attach({ dir, runId: 'nope', logger: memoryLogger() }),
      (e: unknown) => e instanceof InvalidRegistryOptionsError,
    );
  });
});

test('no process carrying this file’s markers is left', () => {
  for (const g of cleanup.groups) assert.deepEqual(groupMembers(g), [], `group ${g} is empty`);
  assertNoneLeft([...markers, ...cleanup.dirs]);
});
