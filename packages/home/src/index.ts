/**
 * @trellis/home: run identity, shared by every package that writes in a Trellis home (the registry,
 * health, the observer). Run ids, where the home is, the LMDB file check, host identity and the
 * run-record validator.
 */
export { type CloseOnExecOutcome, closeOnExec, descriptorsOn } from './close-on-exec.js';
export { currentIdentity, type HostIdentity, judgeRun, type RunVerdict } from './host-identity.js';
export { checkLmdbFile, type FileCheck } from './lmdb-file-check.js';
export { HOME_DEFAULTS, type LocationInput, resolveHomeDir } from './location.js';
export { type FieldKind, hasFields } from './record-fields.js';
export {
  createRunId,
  currentHost,
  homeTagFor,
  parseRunId,
  type RunIdParts,
  runIdFromMarker,
} from './run-id.js';
export { isRunIdentity, type RunIdentity } from './run-record.js';
