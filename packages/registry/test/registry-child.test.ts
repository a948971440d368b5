import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  awaitExit,
  call,
  defineServer,
  Exit,
  getProcessTracker,
  type Pid,
  type ProcessHandle,
  reply,
  send,
  serverChild,
  spawn,
  spawnProcess,
  startSupervisor,
} from '@trellis/core';
import { type ChildView, callRegistry, RegistryStore, registryChild } from '../src/index.js';
import {
  alive,
  assertNoneLeft,
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

/** A process outside any supervisor that plays the tree's parent: 'stop' makes it exit. */
function startParent(): Pid {
  return spawn(async (ctx) => {
    ctx.trapExit(true);
    await ctx.receive((m) => m === 'stop');
    ctx.stop(Exit.shutdown());
  });
}

/** A gen_server that starts one OS process in init, through spawnProcess and so the registry. */
const spawner = defineServer<ProcessHandle, []>({
  async init() {
    return spawnProcess('bash', SHELL_TREE, { stdio: 'ignore', role: 'worker', name: 'spawner-proc' });
  },
  handleCall(_request: unknown, _from, handle) {
    return reply({ pid: handle.pid, pgid: handle.pgid }, handle);
  },
});

test('registryChild: sweeps at start, tracks the tree’s spawns, stops every child process on shutdown', async () => {
  const dir = cleanup.dir();
  const crashed = await Host.start(dir, cleanup);
  markers.push(crashed.marker);
  const orphan = await crashed.spawn(cleanup, 'bash', SHELL_TREE, 'orphan');
  await crashed.crash();

  const parent = startParent();
  const sup = await startSupervisor(
    {
      children: [
        registryChild({ dir, graceMs: 300, name: 'test-registry', logger: memoryLogger() }),
        { id: 'spawner', start: serverChild(spawner, { name: 'test-spawner' }) },
      ],
    },
    { link: parent },
  );
  const runId = await callRegistry<string>('test-registry', { op: 'runId' });
  markers.push(`--trellis-run-id=${runId}`);
  assert.deepEqual(groupMembers(orphan.pgid), [], 'the boot sweep in init reaped the crashed run’s child');

  const proc = await call<{ pid: number; pgid: number }>('test-spawner', 'which');
  cleanup.groups.add(proc.pgid);
  const children = await callRegistry<ChildView[]>('test-registry', { op: 'listChildren', runId });
  assert.deepEqual(
    children.map((c) => [c.name, c.pid, c.status]),
    [['spawner-proc', proc.pid, 'alive']],
  );
  await assert.rejects(
    callRegistry('test-registry', { op: 'nonsense' } as never),
    (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_REGISTRY_OPTIONS',
    'a bad request is the caller’s error, and does not crash the registry',
  );
  await waitFor(() => groupMembers(proc.pgid).length === 3, 'the spawned tree');

  const down = awaitExit(sup);
  send(parent, 'stop');
  await down;
  assert.deepEqual(groupMembers(proc.pgid), [], 'terminate stopped the process group');
  assert.equal(alive(proc.pid), false);
  assert.equal(getProcessTracker(), undefined, 'the tracker was uninstalled');
  const store = RegistryStore.open({ dir, logger: memoryLogger(), readOnly: true });
  assert.deepEqual(store.listRuns(), [], 'the run ended cleanly: no record left');
  await store.close();
});

test('registryChild rejects bad options at once', () => {
  assert.throws(() => registryChild({ graceMs: -5 }), { code: 'ERR_INVALID_REGISTRY_OPTIONS' });
  assert.throws(() => registryChild({ shutdownMs: 1.5 }), { code: 'ERR_INVALID_REGISTRY_OPTIONS' });
  assert.equal(registryChild({ graceMs: 1000 }).shutdown, 1000 + 5000 + 1000);
});

test('no process carrying this file’s markers is left', () => {
  for (const g of cleanup.groups) assert.deepEqual(groupMembers(g), [], `group ${g} is empty`);
  assertNoneLeft([...markers, ...cleanup.dirs]);
});
