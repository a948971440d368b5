export * from './clock.js';
export * from './errors.js';
export * from './procfs.js';
export * from './process-tracker.js';
export * from './spawn-process.js';
export * from './pid.js';
export * from './exit-reason.js';
export * from './mailbox.js';
export * from './signals.js';
export * from './cloneable.js';
export * from './call-table.js';
export { Node, currentNode, NameTakenError, NoProcError, type SpawnOptions } from './node.js';
export {
  TIMEOUT,
  type Timeout,
  ProcessExitedSignal,
  ConcurrentReceiveError,
  type ExitMessage,
  type DownMessage,
  type CallMessage,
  type CastMessage,
  type SystemMessage,
} from './process.js';
export * from './actor.js';
export * from './gen-server.js';
export * from './child-spec.js';
export * from './restart-intensity.js';
export * from './backoff.js';
export * from './events.js';
export * from './supervisor-flags.js';
export { startSupervisor, supervisorChild, SupervisorStartError, type SupervisorSpec, type StartSupervisorOptions } from './supervisor.js';
export {
  startChild,
  terminateChild,
  restartChild,
  deleteChild,
  whichChildren,
  countChildren,
  resetBackoff,
  SupervisorRequestError,
  type ChildInfo,
  type ChildCounts,
} from './supervisor-requests.js';
export * from './application.js';
export * from './task-pool.js';
// Thread actors (thread/): spawnThread, threadChild, their errors and the transport warning hook.
export * from './thread/index.js';
