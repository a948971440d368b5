/**
 * Thread actors: an actor whose process runs in a worker thread of its own, addressed by an ordinary
 * pid, and linked, monitored, called and cast to with the same semantics as an actor of this thread.
 *
 *   const pid = await spawnThread(new URL('./counter.js', import.meta.url), { args: [0] });
 *   await call(pid, 'get');
 *
 * In a supervisor: `{ id: 'counter', start: threadChild(new URL('./counter.js', import.meta.url)) }`.
 * See docs/thread-actors.md for the module format, lifecycle and failure reasons.
 */

import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, type ResourceLimits, type SHARE_ENV } from 'node:worker_threads';
import { assertCloneable } from '../cloneable.js';
import type { Ignore } from '../gen.js';
import { currentNode, NoProcError } from '../node.js';
import { isPid, type Pid } from '../pid.js';
import type { StartContext, StartFn } from '../supervisor/child-spec.js';
import { InvalidThreadOptionsError, ThreadSpawnUnavailableError } from './errors.js';
import { type ThreadWorkerOptions, threadHub } from './hub.js';
import type { StartRequest } from './protocol.js';
import { threadSpawner } from './transport.js';
import { WarmSpare } from './warm-spare.js';

export { liveThreads } from './hub.js';

export interface SpawnThreadOptions {
  /** Arguments of the root: `init(ctx, ...args)` or `body(ctx, ...args)`. Structured-cloned. */
  readonly args?: readonly unknown[];
  /** Link the root to this pid before it runs (spawn_link); a supervisor passes itself. */
  readonly link?: Pid;
  /** Register the root under this name; it resolves from every thread (docs/thread-actors.md, names). */
  readonly name?: string;
  /** The root traps exits from its start. */
  readonly trapExit?: boolean;
  /** Passed to the Worker; going over them ends the actor with ERR_THREAD_OUT_OF_MEMORY. */
  readonly resourceLimits?: ResourceLimits;
  /** The thread's process.env (Worker `env`); default: a copy of this thread's. */
  readonly env?: Record<string, string | undefined> | typeof SHARE_ENV;
  /** Node options of the thread (Worker `execArgv`); default: this process's. */
  readonly execArgv?: readonly string[];
}

export interface ThreadChildOptions extends Omit<SpawnThreadOptions, 'args' | 'link'> {
  /**
   * Keep one thread booted ahead, with the runtime loaded and the module imported, so a restart
   * takes a message round trip instead of a thread boot. Main thread only (ignored in a thread).
   */
  readonly warmSpare?: boolean;
}

/** A StartFn for a thread actor, with control over its warm spare. */
export interface ThreadStartFn extends StartFn {
  /** Boots the warm spare now if there is none; true once it is ready (false without warmSpare). */
  warm(): Promise<boolean>;
  /** Terminates the warm spare and stops keeping one; starting still works (cold). */
  dispose(): Promise<void>;
  /** Thread id of the ready warm spare, i.e. `nodeOf` of the pid the next start will give. */
  readonly spareThreadId: number | undefined;
}

interface Normalized {
  readonly url: string;
  readonly start: StartRequest;
  readonly worker: ThreadWorkerOptions;
}

/**
 * Starts a thread running the module's default export as its root process. Resolves once the root
 * is initialised (a gen_server's init returned; a plain body at once) with its pid, with IGNORE when
 * init returned ignore(), and rejects with InitFailedError (code ERR_INIT_FAILED, `reason` set) when
 * the module cannot be loaded, init fails, or the thread dies during the start.
 */
export function spawnThread(moduleUrl: string | URL, opts: SpawnThreadOptions = {}): Promise<Pid | Ignore> {
  let n: Normalized;
  try {
    n = normalize(moduleUrl, opts);
  } catch (e) {
    return Promise.reject(e);
  }
  return startNormalized(n, undefined);
}

/** A start function for a child spec: the spec's `args` go to the root, which is linked to its supervisor. */
export function threadChild(moduleUrl: string | URL, opts: ThreadChildOptions = {}): ThreadStartFn {
  // Check the options now, where a mistake is easy to trace, not at the first (re)start.
  normalize(moduleUrl, opts);
  const { warmSpare = false, ...spawnOpts } = opts;
  let spare: WarmSpare | undefined;
  const pool = (): WarmSpare | undefined => {
    if (!warmSpare || !isMainThread) return undefined;
    if (spare === undefined) {
      const n = normalize(moduleUrl, spawnOpts);
      spare = new WarmSpare(threadHub(), n.url, n.worker);
    }
    return spare;
  };
  const start = ((ctx: StartContext, ...args: unknown[]) => {
    let n: Normalized;
    try {
      n = normalize(moduleUrl, { ...spawnOpts, args, link: ctx.parent });
    } catch (e) {
      return Promise.reject(e);
    }
    const p = pool();
    if (p === undefined || p.disposed) return startNormalized(n, undefined);
    p.watch(ctx.node, ctx.parent);
    const result = startNormalized(n, p);
    const refill = (): void => void p.refill();
    result.then(refill, refill);
    return result;
  }) as ThreadStartFn;
  start.warm = () => pool()?.warm() ?? Promise.resolve(false);
  start.dispose = async () => {
    await spare?.dispose();
  };
  Object.defineProperty(start, 'spareThreadId', { get: () => spare?.readyThreadId, enumerable: true });
  return start;
}

function startNormalized(n: Normalized, spare: WarmSpare | undefined): Promise<Pid | Ignore> {
  if (!isMainThread) {
    const delegate = threadSpawner();
    if (delegate === undefined) return Promise.reject(new ThreadSpawnUnavailableError());
    if (n.worker.env !== undefined && typeof n.worker.env !== 'object') {
      return Promise.reject(
        new InvalidThreadOptionsError(
          'env',
          'is SHARE_ENV',
          'inside a thread actor pass an object (or nothing)',
        ),
      );
    }
    return delegate.spawn({
      url: n.url,
      start: n.start,
      resourceLimits: n.worker.resourceLimits,
      env: n.worker.env as Record<string, string> | undefined,
      execArgv: n.worker.execArgv,
    });
  }
  const parent = n.start.parent;
  const node = currentNode();
  // OTP's spawn_link to a dead process fails; do not boot a thread just to learn that.
  if (parent !== undefined && node.isLocal(parent) && !node.procs.has(parent)) {
    return Promise.reject(new NoProcError(`spawnThread link to ${parent}`));
  }
  const hub = threadHub();
  const ready = spare?.take();
  if (ready !== undefined) return hub.adopt(ready, n.start);
  try {
    return hub.boot(n.url, n.worker, n.start).start!.promise;
  } catch (e) {
    // new Worker refused the options (e.g. an unknown execArgv flag): a start function rejects
    return Promise.reject(e);
  }
}

function normalize(moduleUrl: string | URL, o: SpawnThreadOptions): Normalized {
  if (typeof o !== 'object' || o === null)
    throw new InvalidThreadOptionsError('options', `is ${String(o)}`, 'pass an object');
  const args = o.args ?? [];
  if (!Array.isArray(args))
    throw new InvalidThreadOptionsError('args', 'is not an array', "pass the root's arguments as an array");
  assertCloneable(args, 'args');
  if (o.link !== undefined && !isPid(o.link)) {
    throw new InvalidThreadOptionsError(
      'link',
      `is ${JSON.stringify(o.link)}, not a pid`,
      'pass the pid of the process to link to, e.g. ctx.self',
    );
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0)) {
    throw new InvalidThreadOptionsError('name', 'is not a non-empty string', 'pass a name, or leave it out');
  }
  if (o.resourceLimits !== undefined && (typeof o.resourceLimits !== 'object' || o.resourceLimits === null)) {
    throw new InvalidThreadOptionsError(
      'resourceLimits',
      'is not an object',
      'use e.g. { maxOldGenerationSizeMb: 64 }',
    );
  }
  if (
    o.execArgv !== undefined &&
    !(Array.isArray(o.execArgv) && o.execArgv.every((a) => typeof a === 'string'))
  ) {
    throw new InvalidThreadOptionsError(
      'execArgv',
      'is not an array of strings',
      'pass Node options such as ["--no-warnings"]',
    );
  }
  return {
    url: toUrl(moduleUrl),
    start: { args, parent: o.link, name: o.name, trapExit: o.trapExit === true },
    worker: { resourceLimits: o.resourceLimits, env: o.env, execArgv: o.execArgv },
  };
}

function toUrl(u: string | URL): string {
  if (u instanceof URL) return u.href;
  if (typeof u !== 'string' || u.length === 0) {
    throw new InvalidThreadOptionsError(
      'moduleUrl',
      `is ${u === '' ? 'empty' : typeof u}`,
      "pass the module's URL, e.g. new URL('./my-actor.js', import.meta.url), or its path",
    );
  }
  // A scheme (file:, data:) but not a Windows drive letter.
  if (/^[a-z][a-z0-9+.-]+:/i.test(u)) {
    try {
      return new URL(u).href;
    } catch {
      throw new InvalidThreadOptionsError(
        'moduleUrl',
        `"${u}" is not a valid URL`,
        'pass a file: URL or a path',
      );
    }
  }
  return pathToFileURL(resolvePath(u)).href;
}
