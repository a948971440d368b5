/** Public face of thread actors (re-exported by the package's src/index.ts). */

export {
  InvalidThreadOptionsError,
  ThreadExitError,
  ThreadModuleError,
  ThreadOutOfMemoryError,
  ThreadSpawnUnavailableError,
  ThreadUncaughtError,
} from './errors.js';
export {
  liveThreads,
  type SpawnThreadOptions,
  spawnThread,
  type ThreadChildOptions,
  type ThreadStartFn,
  threadChild,
} from './thread-actor.js';
export {
  type DroppedItem,
  setThreadWarningHook,
  type ThreadWarning,
  type ThreadWarningHook,
  TRANSPORT_DEFAULTS,
} from './transport.js';
