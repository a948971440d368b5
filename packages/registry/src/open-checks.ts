/**
 * What `Registry.open` does when the registry cannot be opened, and the checks of its options: kept
 * out of registry.ts so that file stays about the registry's life.
 */
import type { Clock } from '@trellis/core';
import { currentIdentity, homeTagFor } from '@trellis/home';
import { REGISTRY_DEFAULTS } from './defaults.js';
import { InvalidRegistryOptionsError, type RegistryUnavailableError } from './errors.js';
import type { RegistryLogger } from './logger.js';
import { sweepWithoutRegistry } from './sweep.js';

/**
 * The registry cannot be opened (full disk, read-only directory), so this app will not start; but the
 * previous run's orphans can still be reaped: their run ids carry this home's tag and their dead host's
 * PID and start time, which is all the marker scan needs (issue 13, defect 4). A failure here must not
 * hide the error the caller is about to get, so it is only logged.
 */
export async function reapWithoutRegistry(
  dir: string,
  graceMs: number,
  clock: Clock,
  logger: RegistryLogger,
  cause: RegistryUnavailableError,
): Promise<void> {
  try {
    const report = await sweepWithoutRegistry({
      here: currentIdentity(homeTagFor(dir)),
      logger,
      clock,
      graceMs,
      killTimeoutMs: REGISTRY_DEFAULTS.killTimeoutMs,
      pollMs: REGISTRY_DEFAULTS.pollMs,
    });
    if (report.killed.length > 0) {
      logger.warn(
        `trellis registry: ${dir} is unusable (${cause.reason}); reaped ${report.killed.length} leftover process(es) of dead runs by their run marker anyway`,
        { dir, killed: report.killed.length },
      );
    }
  } catch (err) {
    logger.warn(`trellis registry: the marker scan without a registry failed: ${(err as Error).message}`, {
      dir,
    });
  }
}

export function checkPeerCheck(ms: number): number {
  if (!(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) {
    throw new InvalidRegistryOptionsError(
      `peerCheckMs must be a finite number >= 0 (0 turns the check off), got ${String(ms)}`,
      { peerCheckMs: ms },
    );
  }
  return ms;
}

export function checkGrace(graceMs: number): number {
  if (!(typeof graceMs === 'number' && Number.isFinite(graceMs) && graceMs >= 0)) {
    throw new InvalidRegistryOptionsError(`graceMs must be a finite number >= 0, got ${String(graceMs)}`, {
      graceMs,
    });
  }
  return graceMs;
}
