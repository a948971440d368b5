export * from './actor.js';
export * from './application.js';
export * from './call-table.js';
export * from './clock.js';
export * from './cloneable.js';
export * from './crash-report.js';
export * from './errors.js';
export * from './events.js';
export * from './exit-reason.js';
export * from './gen-server.js';
export * from './gen-statem/gen-statem.js';
export * from './gen-statem/results.js';
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
export * from './os/process-tracker.js';
export * from './os/procfs.js';
export * from './os/spawn-process.js';
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
export * from './send-request.js';
export * from './signals.js';
export * from './supervisor/backoff.js';
export { type CheckChildSpecsResult, checkChildSpecs } from './supervisor/check-child-specs.js';
export * from './supervisor/child-spec.js';
export * from './supervisor/flags.js';
export {
  type ChildCounts,
  type ChildInfo,
  countChildren,
  deleteChild,
  getChildSpec,
  resetBackoff,
  restartChild,
  SupervisorRequestError,
  startChild,
  terminateChild,
  whichChildren,
} from './supervisor/requests.js';
export * from './supervisor/restart-intensity.js';
export {
  type StartSupervisorOptions,
  type SupervisorSpec,
  SupervisorStartError,
  startSupervisor,
  supervisorChild,
} from './supervisor/supervisor.js';
export * from './sys.js';
export * from './task-pool/task-pool.js';
// Thread actors (thread/): spawnThread, threadChild, their errors and the transport warning hook.
export * from './thread/index.js';
