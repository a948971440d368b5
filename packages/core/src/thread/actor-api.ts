/**
 * `@trellis/core/actor`: the lean public face for thread-actor modules.
 *
 * A thread actor's thread starts by loading code, and in a fresh thread each file costs about half a
 * millisecond; the package index is all of Trellis (supervisors, task pools, OS processes,
 * ts-pattern). This module re-exports only modules that every thread loads anyway to run its actor:
 * the gen_server runtime's module graph and the transport. worker-entry.ts re-exports it, and the
 * esbuild bundle of worker-entry.ts (dist/bundle/actor.js) is both what the package exports as
 * `@trellis/core/actor` and the file every thread-actor thread starts with: importing it costs the
 * actor's module no file at all (scripts/bundle-core.mjs, docs/thread-actors.md).
 *
 * Every export is the same binding as the one of `@trellis/core` (the same module instances: a thread
 * must never hold two copies of node.ts, i.e. two Nodes). Rule for changes: re-export here only
 * modules of the static graph of gen-server.ts, gen-statem/gen-statem.ts and thread/transport.ts; thread-actor-api.test.ts
 * holds this module to that rule and to the index's bindings.
 */
export * from '../actor.js';
export * from '../call-table.js';
export * from '../clock.js';
export * from '../cloneable.js';
export * from '../crash-report.js';
export * from '../errors.js';
export * from '../exit-reason.js';
export * from '../gen-server.js';
export * from '../gen-statem/gen-statem.js';
export * from '../gen-statem/results.js';
export * from '../mailbox.js';
export * from '../names/via.js';
export {
  AlreadyRegisteredError,
  currentNode,
  NameTakenError,
  Node,
  NoProcError,
  type SpawnOptions,
} from '../node.js';
export * from '../pid.js';
export {
  type CallMessage,
  type CastMessage,
  ConcurrentReceiveError,
  type DownMessage,
  type ExitMessage,
  type NameDownMessage,
  ProcessExitedSignal,
  type SystemMessage,
  TIMEOUT,
  type Timeout,
} from '../process.js';
export type * from '../signals.js';
export * from '../sys.js';
export {
  type DroppedItem,
  setThreadWarningHook,
  type ThreadWarning,
  type ThreadWarningHook,
  TRANSPORT_DEFAULTS,
} from './transport.js';
