/** Errors raised by @trellis/registry; every code is documented in docs/errors.md. */
import { TrellisError } from '@trellis/core';

/** The registry was closed; open a new one with `Registry.open`. */
export class RegistryClosedError extends TrellisError {
  constructor(operation: string) {
    super(
      'ERR_REGISTRY_CLOSED',
      `registry ${operation}() called after close(); open a new registry with Registry.open() before spawning`,
      { details: { operation } },
    );
  }
}

/** `stopAll()` is running; no new child may be reserved until it finishes. */
export class RegistryStoppingError extends TrellisError {
  constructor() {
    super(
      'ERR_REGISTRY_STOPPING',
      'cannot reserve a child while stopAll() is stopping this run; wait for stopAll() to resolve before spawning again',
    );
  }
}

/** `activate()` named a reservation this registry does not hold (never made, or removed by stopAll). */
export class UnknownReservationError extends TrellisError {
  constructor(reservationId: string) {
    super(
      'ERR_UNKNOWN_RESERVATION',
      `no reservation "${reservationId}" in the registry (it was never made or stopAll() removed it); reserve() again before spawning`,
      { details: { reservationId } },
    );
  }
}

/** Bad options to `Registry.open`, `Registry.attach`, `sweep` or `stopAll`. */
export class InvalidRegistryOptionsError extends TrellisError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ERR_INVALID_REGISTRY_OPTIONS', message, { details });
  }
}

/** The registry file cannot be opened for a reason other than bad contents (permissions, disk full). */
export class RegistryUnavailableError extends TrellisError {
  constructor(path: string, cause: unknown) {
    super(
      'ERR_REGISTRY_UNAVAILABLE',
      `cannot open the process registry at ${path}: ${(cause as Error)?.message ?? String(cause)}; make the directory writable or point TRELLIS_HOME (or the dir option) at a writable directory`,
      { cause, details: { path } },
    );
  }
}

/**
 * The registry file is corrupt or written by an incompatible version. `Registry.open` never throws
 * this (it moves the file aside and starts fresh); read-only tools such as `trellis registry list` do.
 */
export class CorruptRegistryError extends TrellisError {
  constructor(path: string, reason: string) {
    super(
      'ERR_REGISTRY_CORRUPT',
      `the process registry at ${path} is unusable (${reason}); run \`pnpm trellis registry sweep\` or start the app: either moves it aside, starts a fresh one and reaps leftovers by their run marker`,
      { details: { path, reason } },
    );
  }
}

/** The registry needs Linux `/proc`. */
export class UnsupportedPlatformError extends TrellisError {
  constructor() {
    super(
      'ERR_REGISTRY_UNSUPPORTED_PLATFORM',
      `the process registry needs Linux /proc (platform is ${process.platform}); run Trellis on Linux, or do not open a Registry`,
    );
  }
}
