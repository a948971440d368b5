/**
 * Errors of the task pool (task-pool.ts). Every one is a TrellisError with a stable code, documented
 * in docs/errors.md and docs/task-pool.md. `details.pool` always names the pool (its registered name
 * or its pid), so a log line says which pool a task went to.
 */
import { InvalidOptionsError, TrellisError } from '../errors.js';
import { type ExitReason, formatReason } from '../exit-reason.js';

export class InvalidTaskPoolOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_TASK_POOL_OPTIONS';
}

/** runTask / taskPoolStats on a pool that is not running in this thread. Same code as every noproc. */
export class TaskPoolNoProcError extends TrellisError {
  constructor(pool: string, why: string) {
    super('ERR_NOPROC', `task pool ${pool}: ${why}`, { details: { pool } });
  }
}

export class TaskTimeoutError extends TrellisError {
  constructor(pool: string, timeoutMs: number) {
    super(
      'ERR_TASK_TIMEOUT',
      `task on pool ${pool} timed out after ${timeoutMs} ms and was cancelled (its thread was replaced if it had started); raise timeoutMs, or split the work into smaller tasks`,
      { details: { pool, timeoutMs } },
    );
  }
}

export class TaskAbortedError extends TrellisError {
  constructor(pool: string, reason: unknown) {
    super(
      'ERR_TASK_ABORTED',
      `task on pool ${pool} was cancelled because its AbortSignal fired; this is the caller's own cancellation, not a fault of the pool`,
      { details: { pool }, cause: reason },
    );
  }
}

export class TaskFailedError extends TrellisError {
  constructor(pool: string, cause: Error) {
    super(
      'ERR_TASK_FAILED',
      `task on pool ${pool} threw ${cause.name}: ${cause.message} (the original error is the cause)`,
      {
        details: { pool },
        cause,
      },
    );
  }
}

export class TaskWorkerDiedError extends TrellisError {
  constructor(pool: string, cause: unknown) {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      'ERR_TASK_WORKER_DIED',
      `the thread running this task on pool ${pool} died (${what}); the pool replaced the thread and goes on. Look at the task for an uncaught exception, a process.exit() or memory use above resourceLimits`,
      { details: { pool }, cause },
    );
  }
}

/** The task (or its transferList) could not be structured-cloned into the thread. */
export class TaskNotCloneableError extends TrellisError {
  constructor(pool: string, cause: unknown) {
    super(
      'ERR_NOT_CLONEABLE',
      `task for pool ${pool} could not be sent to a thread (${cause instanceof Error ? cause.message : String(cause)}); tasks are copied with structured clone: pass plain data, and list only ArrayBuffers/MessagePorts in transferList`,
      { details: { pool }, cause },
    );
  }
}

export class TaskQueueFullError extends TrellisError {
  constructor(pool: string, maxQueue: number | string) {
    super(
      'ERR_TASK_QUEUE_FULL',
      `task pool ${pool} refused the task: its queue is full (maxQueue ${maxQueue}); retry later, slow the producer down, or raise maxQueue`,
      { details: { pool, maxQueue } },
    );
  }
}

export class TaskPoolStoppedError extends TrellisError {
  readonly reason: ExitReason | undefined;
  constructor(pool: string, reason: ExitReason | undefined) {
    super(
      'ERR_TASK_POOL_STOPPED',
      reason === undefined
        ? `task pool ${pool} is shutting down and takes no new tasks; retry once its supervisor has restarted it`
        : `task pool ${pool} stopped (reason ${formatReason(reason)}) before the task finished; the task was cancelled. If the pool is supervised it is restarted: retry the task`,
      { details: { pool, reason: reason === undefined ? undefined : formatReason(reason) } },
    );
    this.reason = reason;
  }
}
