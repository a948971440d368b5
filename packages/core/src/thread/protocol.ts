/**
 * The wire protocol between the main thread and thread-actor threads: the one place where the
 * messages of both sides are defined (worker-entry.ts and hub.ts both import from here).
 *
 * Everything travels as FRAMES. A frame is one `postMessage` carrying a flat array of items, each
 * a tag followed by a fixed number of payload slots (flat rather than an array of small wrapper
 * objects: structured clone costs about a microsecond per object, on both sides):
 *
 *   dest >= 0, signal             a Signal for the node (thread) `dest`
 *   CONTROL, message              a control message (ToMain or ToThread)
 *   TRANSFER, list                the transfer list of the NEXT item; the main thread needs it to
 *                                 transfer (not copy) the same buffers again when it forwards
 *   MSG_TO, pid                   the target of the MSG items that follow (until the next MSG_TO)
 *   MSG, message                  a `msg` signal for that target, without its wrapper object
 *   CALL, to, fromPid, ref, req   a `call` signal, flat
 *   REPLY, dest, ref, value       a `reply` signal for node `dest`, flat
 *
 * MSG, CALL and REPLY are the hot paths (one per send, call, reply): a burst of sends to one process
 * costs one number and the message per send, with no object or pid string to clone and rebuild.
 * MSG_TO is written at the start of every frame that has messages, so a frame can be read alone.
 *
 * Topology is a star: a thread sends every frame to the main thread, which handles the signals for
 * node 0 and forwards the others to their thread in arrival order. Each hop is one FIFO port, so
 * signals between one sender and one receiver stay in the order sent (OTP's guarantee).
 *
 * Exit reasons inside control messages are encoded (exit-reason.ts encodeReason); errors are
 * SerializedError: structured clone would drop their class and extra fields.
 *
 * This file holds only types (it costs nothing at thread start, which is benchmarked); the tag
 * values are defined in transport.ts, the module that reads and writes frames.
 */
import type { SerializedError } from '../errors.js';
import type { ExitReason } from '../exit-reason.js';
import type { Pid } from '../pid.js';
import type { Signal, Transferable } from '../signals.js';

/** The frame tags (values in transport.ts). */
export interface FrameTags {
  readonly CONTROL: -1;
  readonly TRANSFER: -2;
  readonly MSG_TO: -3;
  readonly MSG: -4;
  readonly CALL: -5;
  readonly REPLY: -6;
}

export type FrameItem = number | Pid | Signal | ToMain | ToThread | readonly Transferable[] | unknown;
/** A flat array of items (a tag and its payload slots); see the file comment. */
export type Frame = FrameItem[];

/** What a thread needs to start its root process. */
export interface StartRequest {
  readonly args: readonly unknown[];
  /** Link the root to this pid (its parent, e.g. a supervisor) before it runs. */
  readonly parent?: Pid | undefined;
  /** Register the root under this name in its own thread (published to every thread). */
  readonly name?: string | undefined;
  readonly trapExit?: boolean | undefined;
}

/** `workerData` of a thread-actor thread. */
export interface BootData {
  /**
   * Marks the workerData of a thread-actor thread. The bundled entry (dist/bundle/actor.js) is also
   * the module `@trellis/core/actor`, imported anywhere: it runs a thread only where this is set.
   */
  readonly trellis: 'thread-actor';
  /** `file:` URL of the user's module. */
  readonly url: string;
  /** Start at once (a cold start); absent for a warm spare, which waits for a `start` message. */
  readonly start?: StartRequest | undefined;
}

/** Options a thread forwards when it asks the main thread to spawn a thread for it. */
export interface DelegatedSpawn {
  readonly url: string;
  readonly start: StartRequest;
  readonly resourceLimits?: import('node:worker_threads').ResourceLimits | undefined;
  readonly env?: Record<string, string> | undefined;
  readonly execArgv?: readonly string[] | undefined;
}

/** Control messages from a thread to the main thread. */
export type ToMain =
  /** A warm spare has loaded the runtime and imported the module; it waits for `start`. */
  | { readonly k: 'ready' }
  | { readonly k: 'started'; readonly pid: Pid }
  /** The root's init returned ignore(). The thread ends next (an `exiting` follows). */
  | { readonly k: 'ignored' }
  /** The module could not be imported, or init failed. An `exiting` follows. */
  | { readonly k: 'start_failed'; readonly r: ExitReason }
  /** The root process has exited with `r`; the other processes of the thread are gone too. */
  | { readonly k: 'exiting'; readonly r: ExitReason }
  /** spawnThread called inside a thread: the main thread spawns and answers with `spawn_*`. */
  | { readonly k: 'spawn'; readonly req: number; readonly spec: DelegatedSpawn }
  /** A name registered (or freed) in this thread: the hub keeps the directory of every thread's names. */
  | NameNotice;

/** A change of the thread directory of names (see node.ts remoteNames and hub.ts). */
export interface NameNotice {
  readonly k: 'name';
  readonly op: 'reg' | 'unreg';
  readonly name: string;
  readonly pid: Pid;
}

/** Control messages from the main thread to a thread. */
export type ToThread =
  /** Start the root process (sent to a warm spare when it is taken into use). */
  | { readonly k: 'start'; readonly start: StartRequest }
  /** A name of another thread registered or freed (the directory, replicated to every thread). */
  | NameNotice
  /** This thread's registration of `name` lost against `holder` (registered first elsewhere). */
  | { readonly k: 'name_lost'; readonly name: string; readonly pid: Pid; readonly holder: Pid }
  | { readonly k: 'spawned'; readonly req: number; readonly pid: Pid }
  | { readonly k: 'spawn_ignored'; readonly req: number }
  /** `r` is set when the failure has an exit reason (InitFailedError). */
  | {
      readonly k: 'spawn_failed';
      readonly req: number;
      readonly e: SerializedError;
      readonly r?: ExitReason | undefined;
    };

/**
 * What `spawnThread` calls inside a thread actor to have the main thread spawn for it; worker-entry.ts
 * installs it on globalThis under SPAWNER_KEY (transport.ts).
 */
export interface ThreadSpawner {
  spawn(spec: DelegatedSpawn): Promise<Pid | import('../gen.js').Ignore>;
}
