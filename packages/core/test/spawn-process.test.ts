import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SimulatedClock } from '../src/clock.js';
import { InvalidOptionsError } from '../src/errors.js';
import {
  type ProcessActivation,
  type ProcessTracker,
  RUN_ID_ENV,
  runMarker,
  setProcessTracker,
  type TrackedProcessInfo,
} from '../src/os/process-tracker.js';
import {
  isProcessAlive,
  listProcessGroupMembers,
  listProcessIds,
  parseProcStat,
  readProcCmdline,
  readProcEnvironValue,
  readProcStat,
} from '../src/os/procfs.js';
import {
  InvalidSpawnOptionsError,
  type ProcessHandle,
  SpawnFailedError,
  spawnProcess,
} from '../src/os/spawn-process.js';

const IGNORE_TERM = fileURLToPath(new URL('./fixtures/proc-ignore-term.js', import.meta.url));
const VENV_PY = fileURLToPath(new URL('../../../../.venv/bin/python', import.meta.url));
/** The project's virtualenv Python, else the real interpreter behind `python3` (not a shim script). */
const PYTHON = existsSync(VENV_PY)
  ? VENV_PY
  : spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();
/** A shell whose grandchild (a renamed `sleep`) lives in the same process group. */
const SHELL_WITH_GRANDCHILD = [
  '-c',
  '(exec -a trellis-test-marker-sleep sleep 60) & wait',
  'trellis-test-marker',
];

type Event =
  | { op: 'reserve'; id: string; info: TrackedProcessInfo }
  | { op: 'activate'; id: string; activation: ProcessActivation }
  | { op: 'untrack'; ref: string | number };

/** A real, in-memory implementation of the tracker interface (the core cannot use the registry). */
class MemoryTracker implements ProcessTracker {
  readonly runId = `core-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  readonly marker = runMarker(this.runId);
  readonly events: Event[] = [];
  readonly live = new Map<string, ProcessActivation | null>();
  #seq = 0;
  refuseActivation = false;

  async reserve(info: TrackedProcessInfo): Promise<string> {
    const id = `r${++this.#seq}`;
    this.events.push({ op: 'reserve', id, info });
    this.live.set(id, null);
    return id;
  }
  activate(id: string, activation: ProcessActivation): void {
    this.events.push({ op: 'activate', id, activation });
    if (this.refuseActivation) throw new Error('activation refused by test tracker');
    this.live.set(id, activation);
  }
  untrack(ref: string | number): void {
    this.events.push({ op: 'untrack', ref });
    this.live.delete(String(ref));
  }
}

const started: number[] = [];
function remember(h: ProcessHandle): ProcessHandle {
  started.push(h.pgid);
  return h;
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function readyLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('child never printed ready')), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
  });
}

after(async () => {
  // Whatever a failed assertion left behind is stopped here, by process group id.
  for (const pgid of started) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(() => started.every((g) => listProcessGroupMembers(g).length === 0), 'test groups to exit');
  setProcessTracker(undefined);
});

describe('spawnProcess with a tracker', () => {
  test('reserves before the spawn, activates with pid/pgid/start time, untracks on exit', async () => {
    const tracker = new MemoryTracker();
    const h = remember(
      await spawnProcess('bash', SHELL_WITH_GRANDCHILD, {
        tracker,
        role: 'tool',
        name: 'shell',
        stdio: 'ignore',
      }),
    );
    assert.deepEqual(
      tracker.events.map((e) => e.op),
      ['reserve', 'activate'],
    );
    const reserve = tracker.events[0] as Extract<Event, { op: 'reserve' }>;
    assert.equal(reserve.info.role, 'tool');
    assert.equal(reserve.info.name, 'shell');
    assert.deepEqual(reserve.info.args, [...SHELL_WITH_GRANDCHILD, tracker.marker]);

    const st = readProcStat(h.pid)!;
    assert.equal(h.pgid, h.pid, 'the child leads its own process group');
    assert.equal(st.pgid, h.pid);
    assert.equal(st.sid, h.pid, 'detached: the child leads its own session');
    assert.equal(h.startTime, st.startTime);
    assert.deepEqual(tracker.live.get(reserve.id), { pid: h.pid, pgid: h.pid, startTime: st.startTime });
    assert.equal(readProcCmdline(h.pid)!.at(-1), tracker.marker, 'the marker is the last argument');
    assert.equal(readProcEnvironValue(h.pid, RUN_ID_ENV), tracker.runId);
    assert.equal(h.runId, tracker.runId);

    await waitFor(() => listProcessGroupMembers(h.pgid).length === 2, 'the grandchild to start');
    h.kill('SIGKILL');
    const exit = await h.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(h.hasExited, true);
    assert.deepEqual(
      tracker.events.at(-1),
      { op: 'untrack', ref: reserve.id },
      'untracked once exited resolves',
    );
    assert.equal(tracker.live.size, 0);
    await waitFor(() => listProcessGroupMembers(h.pgid).length === 0, 'the grandchild to die with its group');
  });

  test('stop() escalates to SIGKILL for a child and grandchild that ignore SIGTERM', async () => {
    const tracker = new MemoryTracker();
    const h = remember(
      await spawnProcess(process.execPath, [IGNORE_TERM, '--grandchild', 'trellis-test-marker'], {
        tracker,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const [, , gcPid] = (await readyLine(h.child)).split(' ');
    assert.equal(readProcStat(Number(gcPid))!.pgid, h.pgid, 'the grandchild is in the same group');
    const exit = await h.stop({ graceMs: 200 });
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(listProcessGroupMembers(h.pgid).length, 0, 'stop() resolves only when the group is gone');
    assert.equal(isProcessAlive(Number(gcPid)), false);
  });

  test('stop() ends with SIGTERM when the child honours it', async () => {
    const tracker = new MemoryTracker();
    const h = remember(await spawnProcess('bash', SHELL_WITH_GRANDCHILD, { tracker, stdio: 'ignore' }));
    await waitFor(() => listProcessGroupMembers(h.pgid).length === 2, 'the grandchild to start');
    const exit = await h.stop({ graceMs: 5000 });
    assert.equal(exit.signal, 'SIGTERM');
    assert.equal(listProcessGroupMembers(h.pgid).length, 0);
  });

  test('stop() waits out the grace period on the injected clock before SIGKILL', async () => {
    const clock = new SimulatedClock();
    const tracker = new MemoryTracker();
    const h = remember(
      await spawnProcess(process.execPath, [IGNORE_TERM, 'trellis-test-marker'], {
        tracker,
        clock,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    await readyLine(h.child);
    const outcome: { signal?: string | null } = {};
    const stopping = h.stop({ graceMs: 1000 }).then((r) => {
      outcome.signal = r.signal;
    });
    await clock.advance(900);
    assert.equal(isProcessAlive(h.pid, h.startTime), true, 'SIGTERM was ignored and SIGKILL is not due yet');
    assert.equal(outcome.signal, undefined);
    await clock.advance(200);
    const deadline = Date.now() + 10_000;
    while (outcome.signal === undefined && Date.now() < deadline) await clock.advance(20);
    await stopping;
    assert.equal(outcome.signal, 'SIGKILL');
  });

  test('a missing executable rejects with ERR_SPAWN_FAILED and releases the reservation', async () => {
    const tracker = new MemoryTracker();
    await assert.rejects(
      spawnProcess('/nonexistent/trellis-test-marker-binary', [], { tracker }),
      (err: unknown) => err instanceof SpawnFailedError && err.code === 'ERR_SPAWN_FAILED',
    );
    assert.deepEqual(
      tracker.events.map((e) => e.op),
      ['reserve', 'untrack'],
    );
    assert.equal(tracker.live.size, 0);
  });

  test('marker placement: a function can put the marker anywhere; one that drops it is refused', async () => {
    const tracker = new MemoryTracker();
    const a = remember(
      await spawnProcess(PYTHON, ['-c', 'import time; time.sleep(60)', 'trellis-test-marker'], {
        tracker,
        stdio: 'ignore',
        marker: (args, marker) => [args[0]!, args[1]!, marker, ...args.slice(2)],
      }),
    );
    assert.deepEqual(readProcCmdline(a.pid)!.slice(1), [
      '-c',
      'import time; time.sleep(60)',
      tracker.marker,
      'trellis-test-marker',
    ]);
    await a.stop({ graceMs: 2000 });

    const before = tracker.events.length;
    await assert.rejects(
      spawnProcess('bash', ['-c', 'true'], { tracker, marker: (args) => [...args] }),
      (err: unknown) => err instanceof InvalidSpawnOptionsError && err.code === 'ERR_INVALID_SPAWN_OPTIONS',
    );
    assert.equal(tracker.events.length, before, 'nothing was reserved');
  });

  test('a tracker that refuses activation gets the child killed and the error passed on', async () => {
    const tracker = new MemoryTracker();
    tracker.refuseActivation = true;
    await assert.rejects(
      spawnProcess('bash', SHELL_WITH_GRANDCHILD, { tracker, stdio: 'ignore' }),
      /activation refused/,
    );
    const activation = tracker.events.find((e) => e.op === 'activate') as Extract<Event, { op: 'activate' }>;
    started.push(activation.activation.pgid);
    await waitFor(
      () => listProcessGroupMembers(activation.activation.pgid).length === 0,
      'the refused child to die',
    );
    assert.equal(tracker.events.at(-1)?.op, 'untrack');
  });

  test('the installed tracker is used by default', async () => {
    const tracker = new MemoryTracker();
    setProcessTracker(tracker);
    try {
      const h = remember(
        await spawnProcess('bash', ['-c', 'exit 3', 'trellis-test-marker'], { stdio: 'ignore' }),
      );
      assert.equal(h.runId, tracker.runId);
      assert.deepEqual(await h.exited, { code: 3, signal: null });
      assert.deepEqual(
        tracker.events.map((e) => e.op),
        ['reserve', 'activate', 'untrack'],
      );
    } finally {
      setProcessTracker(undefined);
    }
  });
});

describe('spawnProcess without a tracker', () => {
  test('spawns unrecorded, without a marker, still in its own process group', async () => {
    setProcessTracker(undefined);
    const h = remember(await spawnProcess('bash', SHELL_WITH_GRANDCHILD, { stdio: 'ignore' }));
    assert.equal(h.runId, undefined);
    assert.equal(h.reservationId, undefined);
    assert.deepEqual(readProcCmdline(h.pid)!.slice(1), SHELL_WITH_GRANDCHILD);
    assert.equal(readProcEnvironValue(h.pid, RUN_ID_ENV), undefined);
    assert.equal(readProcStat(h.pid)!.pgid, h.pid);
    await waitFor(() => listProcessGroupMembers(h.pgid).length === 2, 'the grandchild to start');
    await h.stop({ graceMs: 2000 });
    assert.equal(listProcessGroupMembers(h.pgid).length, 0);
  });

  test('rejects bad arguments with ERR_INVALID_SPAWN_OPTIONS', async () => {
    await assert.rejects(spawnProcess('', []), InvalidSpawnOptionsError);
    await assert.rejects(spawnProcess('', []), InvalidOptionsError);
    await assert.rejects(spawnProcess('true', [1 as unknown as string]), InvalidSpawnOptionsError);
  });
});

describe('procfs', () => {
  test('readProcStat reads this process; parseProcStat copes with parentheses in the name', () => {
    const st = readProcStat(process.pid)!;
    assert.equal(st.pid, process.pid);
    assert.equal(st.ppid, process.ppid);
    assert.ok(st.startTime > 0);
    assert.ok(listProcessIds().includes(process.pid));
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    const parsed = parseProcStat(`42 (a) b (c) ${['S', ...fields.slice(1)].join(' ')}`)!;
    assert.equal(parsed.comm, 'a) b (c');
    assert.equal(parsed.state, 'S');
    assert.equal(parsed.ppid, 4);
    assert.equal(parsed.pgid, 5);
    assert.equal(parsed.startTime, 22);
    assert.equal(readProcStat(-1), undefined);
  });

  test('a zombie counts as dead; a wrong start time counts as another process', async () => {
    // The parent forks a child that exits at once and never reaps it: a real zombie.
    const code =
      'import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)';
    const h = remember(
      await spawnProcess(PYTHON, ['-c', code, 'trellis-test-marker'], {
        stdio: ['ignore', 'pipe', 'inherit'],
        tracker: null,
      }),
    );
    const zombie = Number(await readyLine(h.child));
    await waitFor(() => readProcStat(zombie)?.state === 'Z', 'the forked child to become a zombie');
    assert.equal(isProcessAlive(zombie), false);
    assert.equal(isProcessAlive(h.pid), true);
    assert.equal(isProcessAlive(h.pid, h.startTime), true);
    assert.equal(isProcessAlive(h.pid, h.startTime + 1), false);
    await h.stop({ graceMs: 2000 });
  });

  test('no process started by this file is left', () => {
    const left = listProcessIds().filter((pid) => {
      const st = readProcStat(pid);
      if (!st || st.state === 'Z') return false;
      const cmd = readProcCmdline(pid)?.join(' ') ?? '';
      return started.includes(st.pgid) || cmd.includes('--trellis-run-id=core-test-');
    });
    assert.deepEqual(left, []);
  });
});
