/**
 * @trellis/chaos: the chaos, bad-input and soak suite (private). Run it with `pnpm chaos` and
 * `pnpm soak` (docs/reliability.md). This module exposes the harness's parts for its own tests and
 * for anyone building another suite on them.
 */
export { CHAOS_DEFAULTS, type FuzzKind } from './defaults.js';
export { ChaosTargetGoneError, InvalidChaosOptionsError } from './errors.js';
export {
  type ExitRecord,
  exitCode,
  type FaultRecord,
  type FaultStatus,
  manifestMs,
  type RestartRecord,
} from './fault-book.js';
export { CallLedger, classify, type LedgerSnapshot, type Outcome } from './ledger.js';
export { type GroupVerdict, type MatchInput, type MatchResult, matchFaults } from './matcher.js';
export { formatDuration, parseDuration, parseOptions, type RunOptions } from './options.js';
export {
  DescendantTracker,
  descendantsOf,
  type FoundProcess,
  findOrphans,
  killProcesses,
  type OrphanReport,
  processesOfRuns,
} from './orphans.js';
export { fnv1a, Prng } from './prng.js';
export {
  buildSchedule,
  FAULT_KINDS,
  FAULT_WEIGHTS,
  type FaultKind,
  type PlannedFault,
  type Schedule,
} from './schedule.js';
export { linearFit, median, percentile } from './stats.js';
export { targetingSelector, targetSession } from './targeting.js';
export { leaseMovedOn, rssFlat, sweepReapedOrphans, trend } from './verdicts.js';
