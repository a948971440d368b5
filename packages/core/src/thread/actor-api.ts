/**
 * `@trellis/core/actor`: the lean public face for thread-actor modules.
 *
 * A thread actor's thread starts by loading ES modules, and in a fresh thread each costs about half
 * a millisecond; the package index is all of Trellis (supervisors, task pools, OS processes,
 * ts-pattern). This module re-exports only modules that every thread loads anyway to run its actor:
 * the gen_server runtime's module graph and the transport. worker-entry.ts imports the runtime
 * through this very module, so it is in the thread's module map before the actor's module asks for
 * it: importing it costs the actor's module no module load at all.
 *
 * Every export is the same binding as the one of `@trellis/core` (the same module instances: a thread
 * must never hold two copies of node.ts, i.e. two Nodes). Rule for changes: re-export here only
 * modules of the static graph of gen-server.ts and thread/transport.ts; thread-actor-api.test.ts
 * holds this module to that rule and to the index's bindings.
 */
export * from '../actor.js';
export * from '../call-table.js';
export * from '../clock.js';
export * from '../cloneable.js';
export * from '../errors.js';
export * from '../exit-reason.js';
export * from '../gen-server.js';
export * from '../mailbox.js';
export { currentNode, NameTakenError, Node, NoProcError, type SpawnOptions } from '../node.js';
export * from '../pid.js';
export {
  type CallMessage,
  type CastMessage,
  ConcurrentReceiveError,
  type DownMessage,
  type ExitMessage,
  ProcessExitedSignal,
  type SystemMessage,
  TIMEOUT,
  type Timeout,
} from '../process.js';
export type * from '../signals.js';
export {
  type DroppedItem,
  setThreadWarningHook,
  type ThreadWarning,
  type ThreadWarningHook,
  TRANSPORT_DEFAULTS,
} from './transport.js';
