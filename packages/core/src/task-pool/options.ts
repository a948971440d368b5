/**
 * Options of a task pool: their defaults (one frozen object) and validation. Validation runs when
 * `taskPoolChild(opts)` is called, so a bad child spec fails where it is written, not at the first
 * restart.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import type { Clock } from '../clock.js';
import { InvalidTaskPoolOptionsError } from './errors.js';

export interface TaskPoolOptions {
  /** The task module (compiled .js): a URL, a file: URL string or a path. Its default export runs each task. */
  readonly filename: URL | string;
  /** Register the pool process under this name; runTask(name, ...) then finds it. */
  readonly name?: string;
  readonly minThreads?: number;
  readonly maxThreads?: number;
  /** Milliseconds an idle thread above minThreads lives before it is stopped. */
  readonly idleTimeout?: number;
  /** Tasks allowed to wait for a thread; more are refused with ERR_TASK_QUEUE_FULL. */
  readonly maxQueue?: number | 'auto';
  readonly resourceLimits?: ResourceLimits;
  readonly concurrentTasksPerWorker?: number;
  /** Time-out of a task that does not give its own `timeoutMs` (Infinity: none). */
  readonly taskTimeoutMs?: number;
  /** Clock for task time-outs; defaults to the supervisor's clock (StartContext.clock). */
  readonly clock?: Clock;
}

export interface RunTaskOptions {
  /** Cancel the task after this many ms from submission (queue wait included); overrides the pool's taskTimeoutMs. */
  readonly timeoutMs?: number;
  /** Cancel the task when this signal fires (rejects with ERR_TASK_ABORTED). */
  readonly signal?: AbortSignal;
  /** ArrayBuffers / MessagePorts to move into the thread instead of copying. */
  readonly transferList?: readonly (ArrayBuffer | MessagePort | ArrayBufferView)[];
}

const cpus = availableParallelism();

/** Defaults; the thread counts are piscina's own (half the cores, at least 1; 1.5x the cores). */
export const TASK_POOL_DEFAULTS = Object.freeze({
  minThreads: Math.max(Math.floor(cpus / 2), 1),
  maxThreads: Math.max(Math.ceil(cpus * 1.5), 1),
  idleTimeout: 0,
  maxQueue: Number.POSITIVE_INFINITY as number | 'auto',
  concurrentTasksPerWorker: 1,
  taskTimeoutMs: Number.POSITIVE_INFINITY,
});

/** Options with every default filled in and the task module as a file: URL. */
export interface NormalizedTaskPoolOptions {
  readonly url: string;
  readonly path: string;
  readonly name: string | undefined;
  readonly minThreads: number;
  readonly maxThreads: number;
  readonly idleTimeout: number;
  readonly maxQueue: number | 'auto';
  readonly resourceLimits: ResourceLimits | undefined;
  readonly concurrentTasksPerWorker: number;
  readonly taskTimeoutMs: number;
  readonly clock: Clock | undefined;
}

function bad(field: string, value: unknown, fix: string): never {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  throw new InvalidTaskPoolOptionsError(`task pool option ${field} is ${shown}; ${fix}`, { field });
}

function wholeAtLeast(o: Record<string, unknown>, field: string, min: number, dflt: number): number {
  const v = o[field];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(field, v, `use a whole number >= ${min}`);
  return v;
}

function toUrl(filename: unknown): { url: string; path: string } {
  let url: string;
  if (filename instanceof URL) url = filename.href;
  else if (typeof filename === 'string' && filename.startsWith('file:')) url = filename;
  else if (typeof filename === 'string' && /^[a-z][a-z0-9+.-]+:\/\//i.test(filename)) url = filename;
  else if (typeof filename === 'string' && filename.length > 0) {
    url = pathToFileURL(isAbsolute(filename) ? filename : resolve(filename)).href;
  } else {
    return bad(
      'filename',
      filename,
      "give the task module as new URL('./task.js', import.meta.url) or a path",
    );
  }
  if (!url.startsWith('file:'))
    bad('filename', url, 'the task module must be a local file (file: URL or path)');
  return { url, path: fileURLToPath(url) };
}

export function normalizeTaskPoolOptions(opts: unknown): NormalizedTaskPoolOptions {
  if (typeof opts !== 'object' || opts === null) bad('object', opts, 'pass { filename, ...options }');
  const o = opts as Record<string, unknown>;
  const { url, path } = toUrl(o.filename);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0 || o.name.startsWith('<'))) {
    bad('name', o.name, 'use a non-empty string that does not start with "<" (that is how pids look)');
  }
  const minThreads = wholeAtLeast(o, 'minThreads', 0, TASK_POOL_DEFAULTS.minThreads);
  // As in piscina: a lone minThreads raises the default maximum, a lone maxThreads lowers the minimum.
  const maxThreads = wholeAtLeast(o, 'maxThreads', 1, Math.max(TASK_POOL_DEFAULTS.maxThreads, minThreads));
  const min = o.minThreads === undefined ? Math.min(minThreads, maxThreads) : minThreads;
  if (min > maxThreads) bad('minThreads', min, `use a value <= maxThreads (${maxThreads})`);
  const idleTimeout = o.idleTimeout ?? TASK_POOL_DEFAULTS.idleTimeout;
  if (typeof idleTimeout !== 'number' || !(idleTimeout >= 0))
    bad('idleTimeout', idleTimeout, 'use milliseconds >= 0 (or Infinity)');
  const maxQueue = o.maxQueue ?? TASK_POOL_DEFAULTS.maxQueue;
  if (
    maxQueue !== 'auto' &&
    (typeof maxQueue !== 'number' ||
      !(maxQueue >= 0) ||
      (Number.isFinite(maxQueue) && !Number.isInteger(maxQueue)))
  ) {
    bad('maxQueue', maxQueue, 'use a whole number >= 0, Infinity or "auto" (maxThreads squared)');
  }
  const concurrentTasksPerWorker = wholeAtLeast(
    o,
    'concurrentTasksPerWorker',
    1,
    TASK_POOL_DEFAULTS.concurrentTasksPerWorker,
  );
  const taskTimeoutMs = o.taskTimeoutMs ?? TASK_POOL_DEFAULTS.taskTimeoutMs;
  if (typeof taskTimeoutMs !== 'number' || !(taskTimeoutMs > 0))
    bad('taskTimeoutMs', taskTimeoutMs, 'use milliseconds > 0, or Infinity for none');
  if (o.resourceLimits !== undefined && (typeof o.resourceLimits !== 'object' || o.resourceLimits === null)) {
    bad(
      'resourceLimits',
      o.resourceLimits,
      'use a worker_threads ResourceLimits object, e.g. { maxOldGenerationSizeMb: 64 }',
    );
  }
  const clock = o.clock as Clock | undefined;
  if (clock !== undefined && (typeof clock !== 'object' || typeof clock.setTimeout !== 'function')) {
    bad('clock', '(not a Clock)', 'pass a Clock such as systemClock or a SimulatedClock');
  }
  return {
    url,
    path,
    name: o.name as string | undefined,
    minThreads: min,
    maxThreads,
    idleTimeout,
    maxQueue: maxQueue as number | 'auto',
    resourceLimits: o.resourceLimits as ResourceLimits | undefined,
    concurrentTasksPerWorker,
    taskTimeoutMs,
    clock,
  };
}

/** Checked at each start, not at spec time: the task module may be built after the spec is written. */
export function assertTaskModuleExists(o: NormalizedTaskPoolOptions): void {
  if (!existsSync(o.path)) {
    throw new InvalidTaskPoolOptionsError(
      `task pool option filename points to ${o.path}, which does not exist; build the task module (tsc -b) or fix the path`,
      { field: 'filename', path: o.path },
    );
  }
}

/** Checks the options of one runTask call; returns the error rather than throwing (runTask rejects). */
export function badRunOptions(
  opts: RunTaskOptions,
  timeoutMs: number,
): InvalidTaskPoolOptionsError | undefined {
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
    return new InvalidTaskPoolOptionsError(
      `runTask option timeoutMs is ${String(timeoutMs)}; use milliseconds > 0, or Infinity for none`,
      {
        field: 'timeoutMs',
      },
    );
  }
  if (
    opts.signal !== undefined &&
    (typeof opts.signal !== 'object' || typeof opts.signal.addEventListener !== 'function')
  ) {
    return new InvalidTaskPoolOptionsError(
      'runTask option signal is not an AbortSignal; pass AbortController.signal or AbortSignal.timeout(ms)',
      {
        field: 'signal',
      },
    );
  }
  if (opts.transferList !== undefined && !Array.isArray(opts.transferList)) {
    return new InvalidTaskPoolOptionsError(
      'runTask option transferList is not an array; pass an array of ArrayBuffers or MessagePorts',
      {
        field: 'transferList',
      },
    );
  }
  return undefined;
}
