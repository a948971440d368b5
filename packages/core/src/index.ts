export * from './actor.js';
export * from './application.js';
export * from './backoff.js';
export * from './call-table.js';
export * from './child-spec.js';
export * from './clock.js';
export * from './cloneable.js';
export * from './errors.js';
export * from './events.js';
export * from './exit-reason.js';
export * from './gen-server.js';
export {
  createDefaultLogger,
  getLogger,
  type LogFn,
  type LogLevel,
  setLogger,
  type TrellisLogger,
} from './logger.js';
export * from './mailbox.js';
export { LocalViaRegistry } from './names/local-via.js';
export {
  formatViaName,
  isViaName,
  registerViaRegistry,
  type ServerRef,
  UnknownViaRegistryError,
  unregisterViaRegistry,
  type ViaName,
  type ViaRegistry,
  viaRegistry,
} from './names/via.js';
export {
  AlreadyRegisteredError,
  currentNode,
  NameTakenError,
  Node,
  NoProcError,
  type SpawnOptions,
} from './node.js';
export * from './pid.js';
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
} from './process.js';
export * from './process-tracker.js';
export * from './procfs.js';
export * from './restart-intensity.js';
export * from './signals.js';
export * from './spawn-process.js';
export {
  type StartSupervisorOptions,
  type SupervisorSpec,
  SupervisorStartError,
  startSupervisor,
  supervisorChild,
} from './supervisor.js';
export * from './supervisor-flags.js';
export {
  type ChildCounts,
  type ChildInfo,
  countChildren,
  deleteChild,
  resetBackoff,
  restartChild,
  SupervisorRequestError,
  startChild,
  terminateChild,
  whichChildren,
} from './supervisor-requests.js';
export * from './task-pool.js';
// Thread actors (thread/): spawnThread, threadChild, their errors and the transport warning hook.
export * from './thread/index.js';
