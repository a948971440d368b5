// Run identity lives in @trellis/home; re-exported so that imports from @trellis/registry keep working.
export {
  checkLmdbFile,
  createRunId,
  type FileCheck,
  type HostIdentity,
  homeTagFor,
  judgeRun,
  type LocationInput,
  parseRunId,
  type RunIdParts,
  type RunVerdict,
  resolveHomeDir as resolveRegistryDir,
  runIdFromMarker,
} from '@trellis/home';
export { type CliIo, main as registryCliMain } from './cli.js';
export { REGISTRY_DEFAULTS } from './defaults.js';
export {
  CorruptRegistryError,
  InvalidRegistryOptionsError,
  RegistryClosedError,
  RegistryStoppingError,
  RegistryUnavailableError,
  UnknownReservationError,
  UnsupportedPlatformError,
} from './errors.js';
export { type ChildStatus, type ChildView, childStatus, type RunView } from './inspect.js';
export { consoleLogger, type RegistryLogger } from './logger.js';
export type { ChildRecord, ChildState, RunRecord } from './records.js';
export { type AttachOptions, Registry, type RegistryOptions, type StopAllOptions } from './registry.js';
export {
  callRegistry,
  type RegistryChildOptions,
  type RegistryRequest,
  registryChild,
} from './registry-child.js';
export type { StopReport, SweepReport, SweptProcess, SweptSource } from './report.js';
export { type OpenStoreOptions, RegistryStore, type StoreRecovery } from './store.js';
export type { MarkerScope, SweepOptions } from './sweep.js';
