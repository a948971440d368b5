/**
 * The module piscina loads in every pool thread. It loads the user's task module and runs its
 * default export for each task.
 *
 * Why a wrapper: piscina rejects a task with whatever error it got, so "the task threw" and "the
 * thread died under the task" look alike from outside. Here a thrown error is caught and returned as
 * a marked result (serialized with its code, details and cause); every rejection piscina still
 * produces is then about the thread or the pool, never about the task's own code. A successful
 * result is returned untouched, so piscina's `move()` transfers keep working.
 */
import { workerData } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import { TASK_FAILED_KEY, TASK_POOL_WORKER_DATA_KEY, type TaskPoolWorkerData } from './protocol.js';

type Handler = (task: unknown) => unknown;

const cfg = (workerData as Record<string, TaskPoolWorkerData> | undefined)?.[TASK_POOL_WORKER_DATA_KEY];

let handler: Handler | undefined;
let loadError: unknown;
try {
  if (cfg === undefined)
    throw new Error(
      'task-pool-worker.js started without its workerData; it is only meant to be loaded by a Trellis task pool',
    );
  const mod = (await import(cfg.url)) as { default?: unknown };
  if (typeof mod.default !== 'function') {
    throw new TypeError(
      `task module ${cfg.url} has no default export function; export default function (task) { ... }`,
    );
  }
  handler = mod.default as Handler;
} catch (e) {
  loadError = e;
}

function failed(e: unknown): unknown {
  return { [TASK_FAILED_KEY]: serializeError(e) };
}

export default function runTrellisTask(task: unknown): unknown {
  if (handler === undefined) return failed(loadError);
  let r: unknown;
  try {
    r = handler(task);
  } catch (e) {
    return failed(e);
  }
  // Only a promise needs a second handler; a plain value goes back as it is (no extra tick).
  if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
    return (r as Promise<unknown>).then(undefined, failed);
  }
  return r;
}
