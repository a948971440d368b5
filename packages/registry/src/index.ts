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
export { checkLmdbFile, type FileCheck } from './lmdb-file-check.js';
export { type LocationInput, resolveRegistryDir } from './location.js';
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
export { createRunId, homeTagFor, parseRunId, type RunIdParts, runIdFromMarker } from './run-id.js';
export { type OpenStoreOptions, RegistryStore, type StoreRecovery } from './store.js';
export {
  type HostIdentity,
  judgeRun,
  type MarkerScope,
  type RunVerdict,
  type SweepOptions,
} from './sweep.js';
