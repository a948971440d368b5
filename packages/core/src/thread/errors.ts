/**
 * Why a thread actor's thread ended other than by its root process exiting, and bad input to
 * spawnThread. Each becomes the cause of an `{error, cause}` exit reason of the root pid (and of
 * the nodedown of every other process of that thread). Across threads these arrive as TrellisError
 * with the same `code` (structured clone keeps no classes): match on `code`.
 */
import { TrellisError } from '../errors.js';

/**
 * An exception nobody caught escaped to the thread's event loop (a throw inside a timer or event
 * callback, an unhandled promise rejection): Node ends the thread. `cause` is the original error
 * (name, message and stack as thrown).
 */
export class ThreadUncaughtError extends TrellisError {
  constructor(threadId: number, url: string, original: unknown) {
    const what = original instanceof Error ? `${original.name}: ${original.message}` : String(original);
    super(
      'ERR_THREAD_UNCAUGHT',
      `thread ${threadId} (${url}) died of an uncaught exception: ${what}. Throw inside the actor's body or callbacks (that ends only the actor, with {error, cause}), or catch errors in timer and event callbacks`,
      { cause: original, details: { threadId, url, error: what } },
    );
  }
}

/** Code in the thread called `process.exit(n)`, which ends the whole thread. */
export class ThreadExitError extends TrellisError {
  readonly exitCode: number;
  constructor(threadId: number, url: string, exitCode: number) {
    super(
      'ERR_THREAD_EXIT',
      `thread ${threadId} (${url}) called process.exit(${exitCode}); a thread actor ends when its root process does: return from the body or call ctx.stop(reason) instead`,
      { details: { threadId, url, exitCode } },
    );
    this.exitCode = exitCode;
  }
}

/** The thread went over its `resourceLimits` (Node's ERR_WORKER_OUT_OF_MEMORY). */
export class ThreadOutOfMemoryError extends TrellisError {
  constructor(threadId: number, url: string, limits: unknown, original: unknown) {
    super(
      'ERR_THREAD_OUT_OF_MEMORY',
      `thread ${threadId} (${url}) ran out of memory (resourceLimits ${JSON.stringify(limits ?? {})}); raise resourceLimits.maxOldGenerationSizeMb or keep less data in the actor`,
      { cause: original, details: { threadId, url, resourceLimits: limits } },
    );
  }
}

/** The module of a thread actor could not be imported or does not export a behaviour. */
export class ThreadModuleError extends TrellisError {
  constructor(url: string, problem: string, cause?: unknown) {
    super(
      'ERR_THREAD_MODULE',
      `thread actor module ${url} ${problem}. Its default export must be a gen_server behaviour (an object with init) or a function (ctx, ...args) that runs as the actor's body`,
      { cause, details: { url, problem } },
    );
  }
}

export class InvalidThreadOptionsError extends TrellisError {
  constructor(field: string, problem: string, fix: string) {
    super('ERR_INVALID_THREAD_OPTIONS', `spawnThread: ${field} ${problem}; ${fix}`, { details: { field } });
  }
}

/** spawnThread was called inside a worker thread that was not started as a thread actor. */
export class ThreadSpawnUnavailableError extends TrellisError {
  constructor() {
    super(
      'ERR_THREAD_SPAWN_UNAVAILABLE',
      'spawnThread was called in a worker thread that Trellis did not start, so there is no main thread to ask; call it from the main thread or from a thread actor',
    );
  }
}
