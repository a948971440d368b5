/**
 * A running instance reaps a dead peer (issue 13, defect 2): hosts sharing one registry directory
 * watch each other's runs, and when one dies by kill -9 another reaps what it left within
 * `peerCheckMs` + the grace period, while live peers, and processes that merely reused a recorded
 * PID, are never touched. Real host processes, real LMDB, real signals.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { after, describe, test } from 'node:test';
import { readBootId, readPidNamespace, readProcStat, runMarker } from '@trellis/core';
import { createRunId, homeTagFor, REGISTRY_DEFAULTS, Registry, RegistryStore } from '../src/index.js';
import {
  alive,
  assertNoneLeft,
  byArgv0,
  Cleanup,
  groupMembers,
  Host,
  memoryLogger,
  SHELL_TREE,
  waitFor,
} from './helpers.js';

const cleanup = new Cleanup();
const markers: string[] = [];
after(() => cleanup.run());

const GRACE_MS = 300;
/** Slack for a loaded machine (2 cores shared with other test runs): scheduling, not the design. */
const SLACK_MS = 3000;

/** A shell tree plus a descendant that escaped into its own session (found by the marker scan). */
const TREE_WITH_ESCAPEE = (tag: string): string[] => [
  '-c',
  `setsid -f bash -c 'exec -a trellis-test-marker-escaped-${tag} sleep 300'; (exec -a trellis-test-marker-sleep sleep 300) & wait`,
  'trellis-test-marker',
];

async function peerWatch(h: Host): Promise<{ checks: number; sweeps: number }> {
  return h.send({ op: 'peerWatch' });
}

/** Polls a host's counters (another process's state: no event to wait for). */
async function waitForChecks(h: Host, atLeast: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await peerWatch(h)).checks < atLeast) {
    if (Date.now() > deadline) assert.fail(`host ${h.runId} ran fewer than ${atLeast} peer checks in 20 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a running instance reaps a dead peer', () => {
  test('kill -9 of one host: a live peer reaps its leftovers within the bound; live peers are untouched', async (t) => {
    const dir = cleanup.dir();
    const a = await Host.start(dir, cleanup, GRACE_MS);
    const b = await Host.start(dir, cleanup, GRACE_MS);
    const c = await Host.start(dir, cleanup, GRACE_MS);
    markers.push(a.marker, b.marker, c.marker);
    const childA = await a.spawn(cleanup, 'bash', TREE_WITH_ESCAPEE('a'), 'a-child');
    const childB = await b.spawn(cleanup, 'bash', SHELL_TREE, 'b-child');
    const childC = await c.spawn(cleanup, 'bash', SHELL_TREE, 'c-child');
    await waitFor(() => byArgv0('trellis-test-marker-escaped-a').length === 1, 'the escaped descendant');
    const [escapee] = byArgv0('trellis-test-marker-escaped-a');
    cleanup.pids.add(escapee!);
    const escapeeStart = readProcStat(escapee!)!.startTime;

    // While everyone lives, the checks run and never sweep, and nobody's child is touched.
    await waitForChecks(b, 3);
    await waitForChecks(c, 3);
    assert.equal((await peerWatch(b)).sweeps, 0, 'no sweep while every peer is alive');
    assert.equal((await peerWatch(c)).sweeps, 0, 'no sweep while every peer is alive');
    for (const ch of [childA, childB, childC]) assert.ok(alive(ch.pid, ch.startTime), 'live peers untouched');
    assert.ok(alive(escapee!, escapeeStart));

    const t0 = performance.now();
    await a.crash();
    const bound = REGISTRY_DEFAULTS.peerCheckMs + GRACE_MS + SLACK_MS;
    await waitFor(
      () => groupMembers(childA.pgid).length === 0 && !alive(escapee!, escapeeStart),
      'the dead host’s children and escaped descendant to be reaped by a live peer',
      bound,
    );
    const reapMs = performance.now() - t0;
    t.diagnostic(
      `reaped ${Math.round(reapMs)} ms after kill -9 (peerCheckMs ${REGISTRY_DEFAULTS.peerCheckMs})`,
    );

    const [wb, wc] = [await peerWatch(b), await peerWatch(c)];
    assert.ok(wb.sweeps + wc.sweeps >= 1, 'a live peer swept');
    for (const ch of [childB, childC])
      assert.ok(alive(ch.pid, ch.startTime), 'the live peers’ children survive');
    // The records go once the sweep has confirmed every process gone, a moment after the above.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const children = (await b.send({ op: 'list' })) as { runId: string }[];
      if (children.every((r) => r.runId !== a.runId)) break;
      if (Date.now() > deadline) assert.fail('the dead run’s records were not removed');
      await new Promise((r) => setTimeout(r, 20));
    }
    await b.end();
    await c.end();
    assert.deepEqual([...groupMembers(childB.pgid), ...groupMembers(childC.pgid)], []);
  });

  test('a dead run whose child PID was reused: the watch drops the record and never signals the process', async () => {
    const dir = cleanup.dir();
    const registry = await Registry.open({ dir, graceMs: GRACE_MS, logger: memoryLogger(), peerCheckMs: 50 });
    markers.push(registry.marker);
    const store = RegistryStore.open({ dir, logger: memoryLogger() });
    // A run whose host PID is this process but with another start time: that host is dead.
    const me = readProcStat(process.pid)!;
    const host = { pid: process.pid, startTime: me.startTime - 1 };
    const runId = createRunId(homeTagFor(dir), host);
    markers.push(runMarker(runId));
    // An unrelated process (no marker, no TRELLIS_RUN_ID) now holds the recorded PID.
    const bystander = spawn('bash', ['-c', 'exec -a trellis-test-marker-unrelated sleep 300'], {
      detached: true,
      stdio: 'ignore',
    });
    bystander.unref();
    cleanup.groups.add(bystander.pid!);
    const st = readProcStat(bystander.pid!)!;
    store.putRun({
      runId,
      hostPid: host.pid,
      hostStartTime: host.startTime,
      bootId: readBootId()!,
      hostname: hostname(),
      pidNamespace: readPidNamespace()!,
      startedAt: new Date().toISOString(),
      cwd: process.cwd(),
    });
    store.putChild({
      runId,
      reservationId: `${runId}/reused-1`,
      state: 'active',
      marker: runMarker(runId),
      role: 'test',
      name: 'reused',
      command: 'sleep',
      args: [],
      recordedAt: new Date().toISOString(),
      pid: bystander.pid!,
      pgid: bystander.pid!,
      startTime: st.startTime,
    });

    await waitFor(
      () => {
        store.refresh();
        return store.getRun(runId) === undefined;
      },
      'the watch to drop the dead run',
      10_000,
    );
    assert.ok(registry.peerWatch.sweeps >= 1);
    assert.deepEqual(store.listChildren(runId), []);
    assert.ok(alive(bystander.pid!, st.startTime), 'a process that reused a recorded PID is never signalled');
    assert.ok(store.getRun(registry.runId), 'the watching run itself is untouched');
    process.kill(-bystander.pid!, 'SIGKILL');
    await waitFor(() => !alive(bystander.pid!), 'cleanup');
    await store.close();
    await registry.close();
  });

  test('peerCheckMs is validated; 0 turns the watch off', async () => {
    const dir = cleanup.dir();
    await assert.rejects(Registry.open({ dir, peerCheckMs: -1, logger: memoryLogger() }), {
      code: 'ERR_INVALID_REGISTRY_OPTIONS',
      message: /peerCheckMs must be a finite number >= 0/,
    });
    const off = await Registry.open({ dir, peerCheckMs: 0, logger: memoryLogger(), installTracker: false });
    markers.push(off.marker);
    assert.deepEqual(off.peerWatch, { checks: 0, sweeps: 0 });
    await off.close();
  });
});

test('no process carrying this file’s markers is left', () => {
  assertNoneLeft(markers);
});
