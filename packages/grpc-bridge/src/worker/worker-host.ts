/**
 * WorkerHost: what a PythonWorker needs from its pool, and nothing more.
 *
 * The worker used to receive the whole PoolRuntime (options, dispatcher, counters, events, sessions,
 * the Launcher...) and read it in 44 places; a reader of python-worker.ts could not tell which parts
 * of the pool a worker may touch. This interface is that list: the options it reads, the dispatcher
 * operations that move its process in and out of service, its event family, and five questions and
 * reports to the pool. PoolRuntime implements it.
 */
import type { Pid } from '@trellis/core';
import type { Dispatcher } from '../pool/dispatcher.js';
import type { PoolEvents } from '../pool/events.js';
import type { NormalizedPoolOptions } from '../pool/options.js';
import type { ToolDescription, WorkerHandle } from './worker-handle.js';

/** The pool options a worker reads. */
export type WorkerHostOptions = Pick<
  NormalizedPoolOptions,
  | 'name'
  | 'concurrency'
  | 'maxConcurrentPerWorker'
  | 'heartbeatIntervalMs'
  | 'heartbeatMisses'
  | 'graceMs'
  | 'ttlMs'
  | 'maxCalls'
  | 'maxRssMb'
  | 'wedgeBeats'
  | 'healthMonitor'
  | 'onStderr'
>;

export interface WorkerHost {
  readonly o: WorkerHostOptions;
  /** Its process joins (`add`), stops taking calls (`drain`), leaves (`gone`), reports stuck places. */
  readonly dispatcher: Pick<Dispatcher, 'add' | 'drain' | 'gone' | 'setAbandoned'>;
  readonly events: Pick<PoolEvents, 'worker'>;
  /** The slot's process: the one the Launcher pre-spawned for it, or a new one. Resolves when ready. */
  adoptProcess(slot: number): Promise<WorkerHandle>;
  /** A fresh process for the slot (a recycle's replacement). Resolves when ready. */
  launchProcess(slot: number): Promise<WorkerHandle>;
  /** The slot's worker failed to start with `error` (the pool's start fails with it). */
  startFailed(slot: number, error: unknown): void;
  /** The slot's worker (actor `self`) is up; true when the slot had a worker before (a restart). */
  started(slot: number, self: Pid): boolean;
  /**
   * The slot's worker was lost with its node (its exit carries `node`, or its launch failed with
   * ERR_NODE_DOWN / ERR_NODE_UNREACHABLE): true when the slot belongs to a node group, which then
   * removes it, and the worker ends without being restarted (a node's death must not spend the
   * supervisor's restart intensity). False for a local slot.
   */
  slotLost(slot: number, why: unknown): boolean;
  /** A new id for a process taking calls (events and stats name workers by it). */
  nextWorkerId(): number;
  /** The tools a ready process described. */
  setTools(tools: readonly ToolDescription[]): void;
  /** A recycle retired the process of worker `workerId`; its sessions' state goes with it. */
  recycled(workerId: number, detail: string): void;
  /** The RSS poll read `bytes` of one of its processes (the pool keeps the peak for stats). */
  notePeakRss(bytes: number): void;
}
