/** Public face of thread actors (re-exported by the package's src/index.ts). */
export {
  spawnThread,
  threadChild,
  liveThreads,
  type SpawnThreadOptions,
  type ThreadChildOptions,
  type ThreadStartFn,
} from './thread-actor.js';
export {
  ThreadUncaughtError,
  ThreadExitError,
  ThreadOutOfMemoryError,
  ThreadModuleError,
  InvalidThreadOptionsError,
  ThreadSpawnUnavailableError,
} from './errors.js';
export {
  setThreadWarningHook,
  type ThreadWarning,
  type ThreadWarningHook,
  type DroppedItem,
  TRANSPORT_DEFAULTS,
} from './transport.js';
