/**
 * The first thing a thread-actor thread does: start importing the actor's module.
 *
 * worker-entry.ts imports this module FIRST, so in the bundle (dist/bundle/actor.js) these lines run
 * before the rest of the runtime evaluates. The read of the actor's file (an asynchronous read by
 * Node's ES module loader) then overlaps the runtime's own evaluation instead of following it: one
 * step fewer in a row on the cold-start path, which is benchmarked against a bare `new Worker`.
 *
 * Safe against the cycle: the actor's module usually imports `@trellis/core/actor`, i.e. the file
 * that is evaluating now. Its own evaluation can only begin after the asynchronous read, by which
 * time this file's synchronous evaluation has long finished (there is no top-level await in it).
 */
import { isMainThread, workerData } from 'node:worker_threads';
import type { BootData } from './protocol.js';

export type ImportedModule = PromiseSettledResult<{ default?: unknown }>;

const data = workerData as BootData | null | undefined;

/** The hub's BootData, in a thread-actor thread only (anywhere else this module starts nothing). */
export const bootData: BootData | undefined =
  !isMainThread && data?.trellis === 'thread-actor' ? data : undefined;

/** The actor's module, settled either way (a failed import is reported, never left unhandled). */
export const bootImport: Promise<ImportedModule> | undefined =
  bootData === undefined
    ? undefined
    : import(bootData.url).then(
        (value: { default?: unknown }): ImportedModule => ({ status: 'fulfilled', value }),
        (reason: unknown): ImportedModule => ({ status: 'rejected', reason }),
      );
