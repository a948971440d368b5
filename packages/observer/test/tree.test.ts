/**
 * The model behind the page, through its real HTTP and SSE faces: the tree walked from a real
 * supervision tree (nested supervisors, simple_one_for_one), uptimes timed from supervisor events,
 * changes pushed because of events (the poll is set far beyond the test), the event log limited to
 * the observed tree, and a real task pool's stats.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Application,
  call,
  exit,
  type Pid,
  runTask,
  serverChild,
  start,
  startChild,
  supervisorChild,
  taskPoolChild,
  whichChildren,
} from '@trellis/core';
import { observerChild, type Snapshot, taskPoolSource } from '../src/index.js';
import { EventRecorder, http, idle, nodeAt, SQUARE_TASK, SseClient, waitFor } from './helpers.js';

let app: Application;
let other: Application;
let url: string;
let sse: SseClient;
let rec: EventRecorder;

before(async () => {
  rec = new EventRecorder();
  app = await start(
    {
      children: [
        // First, so it sees every other child start; a poll far beyond the test, so every push
        // below is caused by an event.
        observerChild({
          log: false,
          announce: false,
          pollMs: 600_000,
          pools: { squares: taskPoolSource('test-squares') },
        }),
        { id: 'a', start: serverChild(idle) },
        {
          id: 'sub',
          type: 'supervisor',
          start: supervisorChild({
            flags: { strategy: 'one_for_all' },
            children: [
              { id: 'b', start: serverChild(idle) },
              { id: 'c', start: serverChild(idle) },
            ],
          }),
        },
        {
          id: 'dyn',
          type: 'supervisor',
          start: supervisorChild({
            flags: { strategy: 'simple_one_for_one' },
            children: [{ id: 'd', start: serverChild(idle), restart: 'temporary' }],
          }),
        },
        {
          id: 'pool',
          start: taskPoolChild({ filename: SQUARE_TASK, name: 'test-squares', minThreads: 1, maxThreads: 1 }),
        },
      ],
    },
    { handleSignals: false, exitProcess: false },
  );
  // A second tree in the same thread: its events must not reach the first tree's log.
  other = await start(
    { children: [{ id: 'stranger', start: serverChild(idle) }] },
    { handleSignals: false, exitProcess: false },
  );
  const obsPid = (await whichChildren(app.pid)).find((c) => c.id === 'trellis-observer')!.pid as Pid;
  url = (await call<{ url: string }>(obsPid, 'info')).url;
  sse = await SseClient.open(url);
});

after(async () => {
  sse?.close();
  await other?.stop();
  await app?.stop();
  rec?.close();
});

describe('observer model', () => {
  test('walks nested supervisors with exact uptimes, and marks the observer itself', async () => {
    const s = await waitFor(
      () => nodeAt(sse.latest, 'root/sub/c') && sse.latest,
      'a pushed snapshot with the tree',
    );
    assert.equal(s.tree?.pid, app.pid);
    assert.equal(s.tree?.status, 'running');
    const keys: string[] = [];
    const walk = (n: any) => {
      keys.push(n.key);
      for (const c of n.children ?? []) walk(c);
    };
    walk(s.tree);
    assert.deepEqual(keys, [
      'root',
      'root/trellis-observer',
      'root/a',
      'root/sub',
      'root/sub/b',
      'root/sub/c',
      'root/dyn',
      'root/pool',
    ]);
    for (const k of ['root/a', 'root/sub', 'root/sub/b', 'root/pool']) {
      const n = nodeAt(s, k)!;
      assert.equal(n.startedAtExact, true, `${k} was timed from its start event`);
      assert.ok(n.startedAt! <= s.at && n.startedAt! > s.at - 60_000);
      assert.equal(n.status, 'running');
    }
    assert.equal(nodeAt(s, 'root/sub')!.strategy, 'one_for_all');
    assert.equal(nodeAt(s, 'root/trellis-observer')!.observer, true);
  });

  test('a kill outside the page is pushed: new pids for the one_for_all group, restart counts, events', async () => {
    const first = sse.latest!;
    const b = nodeAt(first, 'root/sub/b')!;
    const c = nodeAt(first, 'root/sub/c')!;
    exit(b.pid as Pid, 'kill');
    const s = await waitFor(
      () =>
        sse.snapshots.find(
          (x) => nodeAt(x, 'root/sub/b')?.restarts === 1 && nodeAt(x, 'root/sub/c')?.restarts === 1,
        ),
      'a pushed snapshot with b and c restarted',
    );
    assert.notEqual(nodeAt(s, 'root/sub/b')!.pid, b.pid);
    assert.notEqual(nodeAt(s, 'root/sub/c')!.pid, c.pid);
    assert.ok(nodeAt(s, 'root/sub/b')!.startedAt! >= b.startedAt!);
    await waitFor(
      () => sse.events.some((e) => e.type === 'child_restarted' && e.id === 'b'),
      'the restart event pushed',
    );
    const exited = sse.events.find((e) => e.type === 'child_exited' && e.pid === b.pid);
    assert.ok(exited, 'the exit was logged');
    assert.match(exited.text, /killed/);
  });

  test('dynamic children appear as they are started, and the event log holds only this tree', async () => {
    const dyn = nodeAt(sse.latest, 'root/dyn')!;
    const pid = (await startChild(dyn.pid as Pid, [])) as Pid;
    const s = await waitFor(
      () => sse.snapshots.find((x) => nodeAt(x, `root/dyn/${pid}`)),
      'the dynamic child pushed',
    );
    const d = nodeAt(s, `root/dyn/${pid}`)!;
    assert.equal(d.id, null);
    assert.equal(d.restart, 'temporary');
    // The other tree started and logged events on the same bus meanwhile.
    assert.ok(rec.events.some((e) => e.supervisor === other.pid));
    const all = await http(`${url}api/snapshot?events=500`);
    assert.equal(all.status, 200);
    const sups = new Set<string>(all.body.events.map((e: any) => e.supervisor));
    assert.ok(sups.has(app.pid));
    assert.ok(sups.has(nodeAt(s, 'root/sub')!.pid!), 'the sub-supervisor events are logged');
    assert.ok(!sups.has(other.pid), 'no event of the other tree');
    assert.ok(
      all.body.events.some((e: any) => e.type === 'child_started' && e.id === 'b'),
      'events from the start are kept',
    );
  });

  test("shows a real task pool's stats", async () => {
    assert.equal(await runTask('test-squares', 7), 49);
    // Pools send no notification: the next event-driven walk reads them (kill a to cause one).
    const a = nodeAt(sse.latest, 'root/a')!;
    exit(a.pid as Pid, 'kill');
    const value = (x: Snapshot, label: string) => x.pools?.[0]?.values?.find((v) => v.label === label)?.value;
    const s = await waitFor(
      () => sse.snapshots.find((x) => Number(value(x, 'completed')) >= 1),
      'pool stats with the completed task',
    );
    const pool = s.pools![0]!;
    assert.equal(pool.name, 'squares');
    assert.equal(value(s, 'state'), 'running');
    assert.equal(value(s, 'name'), 'test-squares');
    assert.equal(value(s, 'pid'), nodeAt(s, 'root/pool')!.pid);
    // No raw JSON: every value is a scalar.
    for (const v of pool.values!) assert.notEqual(typeof v.value, 'object', v.label);
  });
});
