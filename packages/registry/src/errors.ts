/** Errors raised by @trellis/registry; every code is documented in docs/errors.md. */
import { InvalidOptionsError, TrellisError } from '@trellis/core';
import { match } from 'ts-pattern';

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
export class InvalidRegistryOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_REGISTRY_OPTIONS';
}

/** Why the registry's filesystem refused: the fix differs. */
export type UnavailableReason = 'disk_full' | 'not_writable' | 'other';

/** Classifies an OS or LMDB error (LMDB reports errno as a number: 28 is ENOSPC). */
export function unavailableReason(cause: unknown): UnavailableReason {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = (cause as Error | null)?.message ?? '';
  if (
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    code === 28 ||
    code === 122 ||
    /No space left|quota/i.test(message)
  )
    return 'disk_full';
  if (
    code === 'EROFS' ||
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 30 ||
    code === 13 ||
    /read-only file system|permission denied/i.test(message)
  )
    return 'not_writable';
  return 'other';
}

function isReadOnlyFs(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  return (
    code === 'EROFS' || code === 30 || /read-only file system/i.test((cause as Error | null)?.message ?? '')
  );
}

/**
 * The registry file cannot be created, opened or written for a reason other than its contents: a full
 * filesystem, a read-only or foreign-owned directory. The message names the path and the fix.
 */
export class RegistryUnavailableError extends TrellisError {
  readonly reason: UnavailableReason;
  constructor(path: string, cause: unknown) {
    const reason = unavailableReason(cause);
    const what = (cause as Error)?.message ?? String(cause);
    const fix = match(reason)
      .with(
        'disk_full',
        () =>
          'the filesystem is full: free space on it, or point TRELLIS_HOME (or the dir option) at a directory on a filesystem with room',
      )
      .with('not_writable', () =>
        isReadOnlyFs(cause)
          ? 'the directory is on a read-only filesystem: remount it read-write, or point TRELLIS_HOME (or the dir option) at a writable directory'
          : 'the directory is not writable by this user: make it writable, or point TRELLIS_HOME (or the dir option) at a writable directory',
      )
      .with(
        'other',
        () => 'make the directory writable or point TRELLIS_HOME (or the dir option) at a writable directory',
      )
      .exhaustive();
    super('ERR_REGISTRY_UNAVAILABLE', `cannot use the process registry at ${path}: ${what}; ${fix}`, {
      cause,
      details: { path, reason },
    });
    this.reason = reason;
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
