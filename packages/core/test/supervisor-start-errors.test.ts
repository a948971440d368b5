/**
 * startChild/restartChild failures keep the start function's own error as `cause`, so a caller in
 * any thread can still match on the child's error code (e.g. a bridge worker's ERR_WORKER_START_FAILED).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { awaitExit, Exit, exit, startChild, startSupervisor, TrellisError } from '../src/index.js';

test('startChild rejects with ERR_START_CHILD_FAILED whose cause is the start function error', async () => {
  const sup = await startSupervisor({ children: [] });
  const failing = () => Promise.reject(new TrellisError('ERR_EXAMPLE_START', 'cannot start: no backend'));
  await assert.rejects(startChild(sup, { id: 'x', start: failing }), (e: unknown) => {
    const err = e as TrellisError & { cause?: TrellisError };
    assert.equal(err.code, 'ERR_START_CHILD_FAILED');
    assert.match(err.message, /child "x" failed to start/);
    assert.ok(err.cause instanceof Error, 'the original error is kept as cause');
    assert.equal(err.cause.code, 'ERR_EXAMPLE_START');
    assert.equal(err.cause.message, 'cannot start: no backend');
    return true;
  });
  const done = awaitExit(sup);
  exit(sup, Exit.shutdown());
  assert.deepEqual(await done, Exit.shutdown());
});

test('explicit undefined supervisor flags mean the defaults (found by the chaos spec fuzzer)', async () => {
  const sup = await startSupervisor({
    flags: { strategy: undefined, intensity: undefined, periodMs: undefined, autoShutdown: undefined },
    children: [],
  });
  const done = awaitExit(sup);
  exit(sup, Exit.shutdown());
  assert.deepEqual(await done, Exit.shutdown());
  // A bad value is still refused, naming the field.
  await assert.rejects(startSupervisor({ flags: { intensity: -1 } }), (e: unknown) => {
    assert.equal((e as TrellisError).code, 'ERR_INVALID_SUPERVISOR_FLAGS');
    assert.match((e as Error).message, /intensity/);
    return true;
  });
});
