/**
 * Errors of @trellis/chaos (docs/errors.md, section @trellis/chaos). The suite's own verdicts are
 * not errors: they are checks in the report. These are for bad command lines and for the one thing
 * the harness does inside a pool (targeting a worker).
 */
import { TrellisError } from '@trellis/core';

/** A command-line option of `pnpm chaos` / `pnpm soak` is malformed. */
export class InvalidChaosOptionsError extends TrellisError {
  constructor(option: string, problem: string, fix: string) {
    super('ERR_INVALID_CHAOS_OPTIONS', `option ${option} ${problem}; ${fix}`, { details: { option } });
  }
}

/**
 * A call the harness aimed at one particular Python worker (leak, probe or fuzz check) found that
 * worker gone: it is not re-routed, because the check is about that process.
 */
export class ChaosTargetGoneError extends TrellisError {
  constructor(pool: string, pid: number) {
    super(
      'ERR_CHAOS_TARGET_GONE',
      `pool "${pool}" has no ready worker with pid ${pid} any more (it exited or is draining); a targeted harness call is never sent elsewhere, so retarget it at a live worker`,
      { details: { pool, pid } },
    );
  }
}
