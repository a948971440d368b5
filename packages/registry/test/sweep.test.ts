import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readBootId, readPidNamespace, readProcStat, runMarker } from '@trellis/core';
import {
  type ChildRecord,
  createRunId,
  homeTagFor,
  Registry,
  RegistryStore,
  type RunRecord,
} from '../src/index.js';
import {
  alive,
  assertNoneLeft,
  byArgv0,
  Cleanup,
  carriers,
  groupMembers,
  Host,
  handlesSigterm,
  memoryLogger,
  NODE_IGNORE_TERM,
  PY_IGNORE_TERM,
  PYTHON,
  SHELL_TREE,
  waitFor,
} from './helpers.js';

const cleanup = new Cleanup();
const markers: string[] = [];
after(() => cleanup.run());

async function open(dir: string, options: { sweepAtBoot?: boolean } = {}): Promise<Registry> {
  // The periodic watch for dead peers is off: these tests check what one explicit sweep reports
  // (peer-reap.test.ts tests the watch).
  const r = await Registry.open({ dir, graceMs: 300, logger: memoryLogger(), peerCheckMs: 0, ...options });
  markers.push(r.marker);
  return r;
}

/** A process unrelated to any run: no marker, no TRELLIS_RUN_ID, in a group of its own. */
function unrelated(): { pid: number; startTime: number } {
  const child = spawn('bash', ['-c', 'exec -a trellis-test-marker-unrelated sleep 300'], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  cleanup.groups.add(child.pid!);
  return { pid: child.pid!, startTime: readProcStat(child.pid!)!.startTime };
}

/** Writes a run record whose host PID is this process but whose start time is not: a reused host PID. */
function fakeDeadRun(store: RegistryStore, overrides: Partial<RunRecord> = {}): RunRecord {
  const me = readProcStat(process.pid)!;
  const runId = createRunId(homeTagFor(store.dir), { pid: process.pid, startTime: me.startTime - 1 });
  markers.push(runMarker(runId));
  const run: RunRecord = {
    runId,
    hostPid: process.pid,
    hostStartTime: me.startTime - 1,
    bootId: readBootId()!,
    hostname: hostname(),
    pidNamespace: readPidNamespace()!,
    startedAt: new Date().toISOString(),
    cwd: process.cwd(),
    ...overrides,
  };
  store.putRun(run);
  return run;
}

function childRecord(run: RunRecord, n: number, p: { pid: number; startTime: number }): ChildRecord {
  return {
    runId: run.runId,
    reservationId: `${run.runId}/fake-${n}`,
    state: 'active',
    marker: runMarker(run.runId),
    role: 'test',
    name: `fake-${n}`,
    command: 'sleep',
    args: [],
    recordedAt: new Date().toISOString(),
    pid: p.pid,
    pgid: p.pid,
    startTime: p.startTime,
  };
}

describe('crash recovery', () => {
  test('after the host is SIGKILLed, the next run’s sweep kills all children and grandchildren', async () => {
    const dir = cleanup.dir();
    const host = await Host.start(dir, cleanup);
    markers.push(host.marker);
    const tree = await host.spawn(cleanup, 'bash', SHELL_TREE, 'shell-tree');
    const py = await host.spawn(cleanup, PYTHON, [PY_IGNORE_TERM, 'parent', 'trellis-test-marker'], 'python');
    const ready = join(dir, 'node.ready');
    const node = await host.spawn(
      cleanup,
      process.execPath,
      [NODE_IGNORE_TERM, `--ready-file=${ready}`, 'trellis-test-marker'],
      'node',
    );
    // A descendant that left the group (setsid): only its inherited TRELLIS_RUN_ID can find it.
    await host.spawn(
      cleanup,
      'bash',
      ['-c', 'setsid bash -c "exec -a trellis-test-marker-escaped sleep 300" & wait', 'trellis-test-marker'],
      'escaper',
    );
    await waitFor(
      () =>
        groupMembers(tree.pgid).length === 3 &&
        groupMembers(py.pgid).length === 2 &&
        groupMembers(py.pgid).every(handlesSigterm) &&
        existsSync(ready) &&
        byArgv0('trellis-test-marker-escaped').length === 1,
      'the whole tree to be up, with SIGTERM ignored where intended',
    );
    const escaped = byArgv0('trellis-test-marker-escaped')[0]!;
    cleanup.pids.add(escaped);
    const everyone = [...groupMembers(tree.pgid), ...groupMembers(py.pgid), node.pid, escaped];
    assert.equal(everyone.length, 7);

    await host.crash();
    assert.ok(
      everyone.every((p) => alive(p)),
      'the children outlive the host: they are orphans now',
    );

    const registry = await open(dir);
    const report = registry.bootSweep!;
    assert.deepEqual(report.runs.dead, [host.runId]);
    assert.deepEqual(
      report.killed
        .filter((k) => k.source === 'record')
        .map((k) => k.name)
        .sort(),
      ['escaper', 'node', 'python', 'shell-tree'],
    );
    assert.deepEqual(
      report.killed.filter((k) => k.source === 'marker').map((k) => k.pid),
      [escaped],
      'the escaped descendant was found by its environment',
    );
    assert.deepEqual(
      report.forced.map((k) => k.name).sort(),
      ['node', 'python'],
      'SIGTERM-ignorers needed SIGKILL',
    );
    assert.deepEqual(report.survivors, []);
    for (const p of everyone) assert.equal(alive(p), false, `process ${p} is gone`);
    assert.deepEqual(carriers(host.marker, host.runId), [], '/proc shows nothing of the dead run');
    assert.deepEqual(registry.listChildren(), []);
    assert.deepEqual(
      registry.listRuns().map((r) => r.runId),
      [registry.runId],
      'the dead run’s records are removed',
    );
    await registry.close();
  });

  test('the sweep removes the Unix sockets its killed workers listened on, and their trellis- folder once empty', async () => {
    const dir = cleanup.dir();
    const host = await Host.start(dir, cleanup);
    markers.push(host.marker);
    // Two "workers" as the bridge starts them (`--listen unix:<folder>/<sock>`), their socket files
    // already there, as a SIGKILLed worker leaves them; the second folder also holds a file of
    // somebody else, so it must stay (with that file).
    const own = join(dir, 'trellis-sockA');
    const shared = join(dir, 'trellis-sockB');
    mkdirSync(own);
    mkdirSync(shared);
    for (const f of [
      join(own, 'w0-1.sock'),
      join(own, 'w0-1.sock.lane'),
      join(shared, 'w1-2.sock'),
      join(shared, 'other.txt'),
    ])
      writeFileSync(f, '');
    for (const [folder, sock] of [
      [own, 'w0-1.sock'],
      [shared, 'w1-2.sock'],
    ] as const)
      await host.spawn(
        cleanup,
        'bash',
        ['-c', 'exec sleep 300', 'trellis-test-marker', '--listen', `unix:${join(folder, sock)}`],
        sock,
      );
    await host.crash();
    const registry = await open(dir);
    assert.deepEqual(registry.bootSweep!.runs.dead, [host.runId]);
    assert.equal(existsSync(own), false, 'the emptied trellis- folder is removed');
    assert.equal(existsSync(join(shared, 'w1-2.sock')), false);
    assert.equal(existsSync(join(shared, 'other.txt')), true, 'a file no record names stays');
    await registry.close();
  });

  test('a crash between reserve and activate is resolved by the marker scan', async () => {
    const dir = cleanup.dir();
    const host = await Host.start(dir, cleanup);
    markers.push(host.marker);
    const started = await host.send({ op: 'reserveOnly', command: 'bash', args: SHELL_TREE });
    cleanup.groups.add(started.pid);
    const empty = await host.send({ op: 'reserveOnly' });
    await waitFor(() => groupMembers(started.pid).length === 3, 'the unactivated child’s tree');
    await host.crash();

    const registry = await open(dir);
    const report = registry.bootSweep!;
    assert.deepEqual(
      report.resolvedReservations.map((r) => r.reservationId).sort(),
      [started.reservationId, empty.reservationId].sort(),
    );
    assert.deepEqual(
      report.killed.map((k) => [k.source, k.pid]),
      [['marker', started.pid]],
    );
    assert.deepEqual(groupMembers(started.pid), [], 'its whole group is gone');
    assert.deepEqual(registry.listChildren(), []);
    await registry.close();
  });

  test('a dry run reports and touches nothing; the real sweep then reaps', async () => {
    const dir = cleanup.dir();
    const host = await Host.start(dir, cleanup);
    markers.push(host.marker);
    const tree = await host.spawn(cleanup, 'bash', SHELL_TREE);
    await host.crash();
    const log = memoryLogger();
    const registry = await Registry.open({ dir, graceMs: 300, logger: log, sweepAtBoot: false });
    markers.push(registry.marker);

    const dry = await registry.sweep({ dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(
      dry.killed.map((k) => k.pid),
      [tree.pid],
    );
    assert.ok(alive(tree.pid, tree.startTime), 'nothing was signalled');
    assert.equal(registry.listChildren(host.runId)[0]?.status, 'alive', 'nothing was removed');
    assert.ok(
      log.entries.some((e) => e.message.includes('(dry run)')),
      'the report is logged',
    );

    const real = await registry.sweep();
    assert.deepEqual(
      real.killed.map((k) => k.pid),
      [tree.pid],
    );
    assert.deepEqual(groupMembers(tree.pgid), []);
    assert.deepEqual(registry.listChildren(), []);
    await registry.close();
  });
});

describe('never an innocent process', () => {
  test('PID reuse: records whose PID names an unrelated process are dropped and the process survives', async () => {
    const dir = cleanup.dir();
    const registry = await open(dir, { sweepAtBoot: false });
    const store = RegistryStore.open({ dir, logger: memoryLogger() });
    const run = fakeDeadRun(store);
    const sameStartNoMarker = unrelated();
    const otherStart = unrelated();
    const gone = await new Promise<{ pid: number; startTime: number }>((resolve) => {
      const c = spawn('true', [], { stdio: 'ignore' });
      const startTime = readProcStat(c.pid!)!.startTime;
      c.once('exit', () => resolve({ pid: c.pid!, startTime }));
    });
    // A zombie: a Python parent that forks a child which exits and is never reaped.
    const zombieParent = spawn(
      PYTHON,
      [
        '-c',
        'import os,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid,flush=True)\ntime.sleep(300)',
        'trellis-test-marker',
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanup.groups.add(zombieParent.pid!);
    const zombie = Number(
      await new Promise<string>((r) => zombieParent.stdout!.once('data', (d) => r(String(d)))),
    );
    await waitFor(() => readProcStat(zombie)?.state === 'Z', 'the zombie');
    const zombieStart = readProcStat(zombie)!.startTime;

    store.putChild(childRecord(run, 1, sameStartNoMarker));
    store.putChild(childRecord(run, 2, { pid: otherStart.pid, startTime: otherStart.startTime + 7 }));
    store.putChild(childRecord(run, 3, gone));
    store.putChild(childRecord(run, 4, { pid: zombie, startTime: zombieStart }));

    const report = await registry.sweep();
    assert.deepEqual(report.runs.dead, [run.runId], 'a host PID with another start time is a dead host');
    assert.deepEqual(report.killed, []);
    assert.deepEqual(report.droppedReused.map((d) => d.name).sort(), ['fake-1', 'fake-2']);
    assert.deepEqual(
      report.droppedDead.map((d) => d.name).sort(),
      ['fake-3', 'fake-4'],
      'zombies count as dead',
    );
    assert.ok(alive(sameStartNoMarker.pid, sameStartNoMarker.startTime), 'the unrelated process survives');
    assert.ok(alive(otherStart.pid, otherStart.startTime), 'the unrelated process survives');
    assert.ok(alive(zombieParent.pid!), 'the zombie’s parent is untouched');
    store.refresh();
    assert.deepEqual(store.listChildren(run.runId), []);
    assert.equal(store.getRun(run.runId), undefined);

    for (const p of [sameStartNoMarker.pid, otherStart.pid, zombieParent.pid!]) process.kill(-p, 'SIGKILL');
    await waitFor(
      () => [sameStartNoMarker.pid, otherStart.pid, zombieParent.pid!].every((p) => !alive(p)),
      'cleanup',
    );
    await store.close();
    await registry.close();
  });

  test('records from an earlier boot are dropped untouched; foreign runs are left alone', async () => {
    const dir = cleanup.dir();
    const registry = await open(dir, { sweepAtBoot: false });
    const store = RegistryStore.open({ dir, logger: memoryLogger() });
    const bystander = unrelated();
    const rebooted = fakeDeadRun(store, { bootId: 'an-earlier-boot' });
    const foreign = fakeDeadRun(store, { hostname: 'another-machine' });
    store.putChild(childRecord(rebooted, 1, bystander));
    store.putChild(childRecord(foreign, 2, bystander));

    const report = await registry.sweep();
    assert.deepEqual(report.runs.rebooted, [rebooted.runId]);
    assert.deepEqual(report.runs.foreign, [foreign.runId]);
    assert.deepEqual(
      report.droppedDead.map((d) => d.name),
      ['fake-1'],
    );
    assert.deepEqual(
      report.skippedForeign.map((d) => d.name),
      ['fake-2'],
    );
    assert.ok(alive(bystander.pid, bystander.startTime));
    store.refresh();
    assert.equal(store.getRun(rebooted.runId), undefined);
    assert.ok(store.getRun(foreign.runId), 'a foreign run keeps its records');
    process.kill(-bystander.pid, 'SIGKILL');
    await waitFor(() => !alive(bystander.pid), 'cleanup');
    await store.close();
    await registry.close();
  });

  test('two instances alive at once: each sweep leaves the other’s children alone', async () => {
    const dir = cleanup.dir();
    const a = await Host.start(dir, cleanup);
    const b = await Host.start(dir, cleanup);
    markers.push(a.marker, b.marker);
    assert.deepEqual(b.bootSweep.runs.alive.sort(), [a.runId, b.runId].sort(), 'b’s boot sweep saw a alive');
    const childA = await a.spawn(cleanup, 'bash', SHELL_TREE, 'a-child');
    const childB = await b.spawn(cleanup, 'bash', SHELL_TREE, 'b-child');

    const fromA = await a.send({ op: 'sweep' });
    const fromB = await b.send({ op: 'sweep' });
    assert.deepEqual(fromA.killed, []);
    assert.deepEqual(fromB.killed, []);
    assert.deepEqual(fromA.skippedAlive.map((s: { name: string }) => s.name).sort(), ['a-child', 'b-child']);
    assert.deepEqual(fromB.skippedAlive.map((s: { name: string }) => s.name).sort(), ['a-child', 'b-child']);
    // A third instance booting beside them leaves both alone too.
    const c = await open(dir);
    assert.deepEqual(c.bootSweep!.killed, []);
    assert.ok(alive(childA.pid, childA.startTime) && alive(childB.pid, childB.startTime));
    await c.close();

    const stopA = await a.send({ op: 'stopAll' });
    assert.deepEqual(
      stopA.killed.map((k: { pid: number }) => k.pid),
      [childA.pid],
    );
    assert.ok(alive(childB.pid, childB.startTime), 'a’s stopAll does not touch b’s child');
    await a.end();
    await b.end();
    assert.deepEqual([...groupMembers(childA.pgid), ...groupMembers(childB.pgid)], []);
  });
});

test('no process carrying this file’s markers is left', () => {
  for (const g of cleanup.groups) assert.deepEqual(groupMembers(g), [], `group ${g} is empty`);
  assertNoneLeft([
    ...markers,
    ...cleanup.dirs,
    'trellis-test-marker-escaped',
    'trellis-test-marker-unrelated',
  ]);
});
