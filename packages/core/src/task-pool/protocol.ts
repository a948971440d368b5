/**
 * What the pool (task-pool.ts) and its thread-side wrapper (task-pool-worker.ts) agree on. Kept in
 * its own file so the wrapper does not load the pool (and piscina's main-thread side) into every
 * pool thread.
 */

/** Key of the piscina workerData entry that tells the wrapper which task module to load. */
export const TASK_POOL_WORKER_DATA_KEY = '$trellisTaskPool';

/** Key of the result object the wrapper returns when the task threw. */
export const TASK_FAILED_KEY = '$trellisTaskFailed';

export interface TaskPoolWorkerData {
  /** file: URL of the user's task module. */
  readonly url: string;
}
