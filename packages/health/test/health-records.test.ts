/**
 * Health records in LMDB: read from a second OS process while the writer runs, reported dead after
 * a kill -9 of the writer and marked dead by the next boot, stopped after an orderly stop; writes are
 * batched per flush (a beat alone never reaches the file); a restarted monitor adopts its records.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  awaitExit,
  Exit,
  exit,
  type Pid,
  SimulatedClock,
  send,
  serverChild,
  settle,
  spawn,
  startSupervisor,
  whereis,
} from '@trellis/core';
import {
  findHealthMonitor,
  HealthReader,
  HealthStore,
  healthMonitorChild,
  monitoredChild,
  readHealth,
  startHealthMonitor,
} from '../src/index.js';
import { beater } from './beater.js';
import { Cleanup } from './helpers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

describe('health records across processes', () => {
  test('a second process reads live records while the writer runs; after kill -9 they are dead, and the next boot marks them', async () => {
    const dir = cleanup.dir();
    const writer = cleanup.child('health-writer.js', [dir]);
    const ready = await writer.next((m) => m.op === 'ready', 'writer ready');

    // Live: the writer's records, judged alive by its host pid + start time.
    const first = await pollSnapshot(dir, (s) => {
      const beating = s.records.find((r) => r.key === 'beating');
      const silent = s.records.find((r) => r.key === 'silent');
      return s.runs.length === 1 && beating?.state === 'active' && silent?.state === 'stale' ? s : undefined;
    });
    const run = first.runs[0]!;
    assert.equal(run.liveness, 'running');
    assert.equal(run.hostPid, writer.pid);
    assert.equal(run.silent, false);
    const beating = first.records.find((r) => r.key === 'beating')!;
    assert.equal(beating.pid, ready.pids.beating);
    assert.ok(beating.heartbeatAgeMs !== null && beating.heartbeatAgeMs < 5000);
    assert.equal(first.records.find((r) => r.key === 'silent')!.cause, 'startup_timeout');
    // Still being written: the beat count grows between two reads.
    await pollSnapshot(dir, (s) =>
      (s.records.find((r) => r.key === 'beating')?.beats ?? 0) > beating.beats ? s : undefined,
    );

    writer.kill9();
    await writer.exited;
    const dead = await readHealth({ dir });
    assert.equal(dead.runs[0]!.liveness, 'dead');
    const views = Object.fromEntries(dead.records.map((r) => [r.key, r]));
    assert.equal(views.beating!.state, 'dead', 'never left "active"');
    assert.equal(views.beating!.recordedState, 'active', 'the file still says what the writer last wrote');
    assert.equal(views.silent!.state, 'dead');

    // The next boot in this directory marks the dead run in the file itself.
    const name = 'boot-two';
    const mon = await startHealthMonitor({ dir, name, flushIntervalMs: 20 });
    const store = HealthStore.openReadOnly(dir)!;
    try {
      const deadRun = store.getRun(run.runId)!;
      assert.equal(deadRun.state, 'dead');
      assert.ok(deadRun.markedDeadAt! >= deadRun.lastFlushAt);
      for (const r of store.listRecords(run.runId)) {
        assert.equal(r.state, 'dead');
        assert.equal(r.cause, 'run_dead');
      }
      assert.equal(store.listRecords(run.runId).find((r) => r.key === 'beating')!.stateBeforeDeath, 'active');
      const own = findHealthMonitor(name)!.runId;
      assert.equal(store.getRun(own)!.state, 'running');
    } finally {
      await store.close();
      const done = awaitExit(mon);
      exit(mon, Exit.shutdown());
      await done;
    }
    const after = await readHealth({ dir });
    assert.deepEqual(after.runs.map((r) => r.liveness).sort(), ['dead', 'stopped']);
  });

  test('an orderly stop leaves the run and its records stopped, not active', async () => {
    const dir = cleanup.dir();
    const writer = cleanup.child('health-writer.js', [dir]);
    await writer.next((m) => m.op === 'ready', 'writer ready');
    await pollSnapshot(dir, (s) =>
      s.records.find((r) => r.key === 'beating')?.state === 'active' ? s : undefined,
    );
    await writer.stop();
    assert.equal((await writer.exited).code, 0);
    const s = await readHealth({ dir });
    assert.equal(s.runs[0]!.liveness, 'stopped');
    assert.deepEqual(s.records.map((r) => [r.key, r.state, r.lastExitReason]).sort(), [
      ['beating', 'stopped', 'shutdown'],
      ['silent', 'stopped', 'shutdown'],
    ]);
  });
});

describe('health records in this process (simulated clock)', () => {
  test('beats stay in memory; one batched write per flush interval carries them to LMDB', async () => {
    const dir = cleanup.dir();
    const clock = new SimulatedClock(0);
    const mon = await startHealthMonitor({
      dir,
      name: 'batch',
      clock,
      flushIntervalMs: 100,
      scanIntervalMs: 10,
    });
    const m = findHealthMonitor('batch')!;
    const reader = new HealthReader({ dir });
    try {
      const target = spawn(async (ctx) => {
        await ctx.receive((x) => x === 'stop');
      });
      m.register(target, { key: 'x', intervalMs: 1000 });
      await clock.advance(10);
      assert.equal(reader.snapshot().records.length, 0, 'nothing written before the first flush');
      await clock.advance(95); // flush at t=100
      assert.equal(reader.snapshot().records[0]!.beats, 0);
      const flushedAt = reader.snapshot().runs[0]!.lastFlushAt;
      for (let i = 0; i < 50; i++) m.beat(target);
      assert.equal(reader.snapshot().records[0]!.beats, 0, '50 beats, no write');
      assert.equal(reader.snapshot().runs[0]!.lastFlushAt, flushedAt);
      await clock.advance(100); // flush at t=200
      const s = reader.snapshot();
      assert.equal(s.records[0]!.beats, 50);
      assert.equal(s.records[0]!.state, 'active');
      assert.equal(s.runs[0]!.lastFlushAt - flushedAt, 100, 'exactly one flush later');
      send(target, 'stop');
      await awaitExit(target);
    } finally {
      await reader.close();
      const done = awaitExit(mon);
      exit(mon, Exit.shutdown());
      await done;
    }
  });

  test('after an orderly stop, a new monitor of the same name in this process starts a new run', async () => {
    const dir = cleanup.dir();
    const stopMonitor = async (pid: Pid) => {
      const done = awaitExit(pid);
      exit(pid, Exit.shutdown());
      await done;
    };
    const first = await startHealthMonitor({ dir, name: 'again' });
    const runA = findHealthMonitor('again')!.runId;
    const a = spawn(async (ctx) => {
      await ctx.receive((x) => x === 'stop');
    });
    findHealthMonitor('again')!.register(a, { key: 'a' });
    await stopMonitor(first);
    const second = await startHealthMonitor({ dir, name: 'again' });
    try {
      const m = findHealthMonitor('again')!;
      assert.notEqual(m.runId, runA);
      assert.equal(m.size, 0, 'nothing of the stopped run was adopted');
      const s = await readHealth({ dir });
      assert.deepEqual(s.runs.find((r) => r.runId === runA)?.liveness, 'stopped');
      assert.deepEqual(
        s.records.map((r) => [r.runId === runA, r.key, r.state, r.cause]),
        [[true, 'a', 'stopped', 'monitor_stopped']],
      );
    } finally {
      await stopMonitor(second);
      send(a, 'stop');
      await awaitExit(a);
    }
  });

  test('a monitor restarted by its supervisor continues its run and adopts its records', async () => {
    const dir = cleanup.dir();
    const clock = new SimulatedClock(0);
    const pids: Pid[] = [];
    const sup = await startSupervisor(
      {
        flags: { intensity: 5, periodMs: 1000 },
        children: [
          healthMonitorChild({ dir, name: 'adopt', flushIntervalMs: 50, scanIntervalMs: 10 }),
          monitoredChild(
            {
              id: 'w',
              start: serverChild(beater),
              args: [{ intervalMs: 20, monitor: 'adopt', onInit: (p: Pid) => pids.push(p) }],
            },
            { monitor: 'adopt', intervalMs: 20 },
          ),
        ],
      },
      { clock },
    );
    try {
      await clock.advance(100);
      const before = findHealthMonitor('adopt')!;
      assert.equal(before.get('w')!.state, 'active');
      const beatsBefore = before.get('w')!.beats;
      exit(before.pid, 'kill');
      for (let i = 0; i < 100 && findHealthMonitor('adopt') === undefined; i++) await settle();
      const afterMon = findHealthMonitor('adopt')!;
      assert.notEqual(afterMon.pid, before.pid);
      assert.equal(afterMon.runId, before.runId, 'same run: same process, same directory');
      assert.equal(whereis('adopt'), afterMon.pid);
      const adopted = afterMon.get('w')!;
      assert.equal(adopted.pid, pids[0]);
      assert.equal(adopted.cause, 'adopted');
      assert.ok(adopted.beats >= beatsBefore - 5, 'counts carried over from the last flush');
      await clock.advance(100);
      assert.equal(afterMon.get('w')!.state, 'active');
      assert.equal(pids.length, 1, 'the worker was not restarted');
      const s = await readHealth({ dir });
      assert.equal(s.runs.length, 1);
      assert.equal(s.records.length, 1);
    } finally {
      const done = awaitExit(sup);
      exit(sup, Exit.shutdown());
      await done;
    }
  });
});

async function pollSnapshot<T>(
  dir: string,
  pick: (s: Awaited<ReturnType<typeof readHealth>>) => T | undefined,
): Promise<T> {
  const reader = new HealthReader({ dir });
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const v = pick(reader.snapshot());
      if (v !== undefined) return v;
      if (Date.now() > deadline) assert.fail('timed out waiting for the health records');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await reader.close();
  }
}
