/** Errors raised by @trellis/health; every code is documented in docs/errors.md. */
import { InvalidOptionsError, TrellisError } from '@trellis/core';

/** Bad options to the health monitor, `register`, `monitoredChild` or `healthMonitorChild`. */
export class InvalidHealthOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_HEALTH_OPTIONS';
}

/** No health monitor answers under the given name or pid (names resolve from every thread). */
export class HealthMonitorNotFoundError extends TrellisError {
  constructor(target: string) {
    super(
      'ERR_HEALTH_MONITOR_NOT_FOUND',
      `no health monitor is running as ${target}; start healthMonitorChild() BEFORE the children it monitors (earlier in the same supervisor), or pass the monitor's pid`,
      { details: { target } },
    );
  }
}

/** A record key is already used by another live actor. */
export class HealthKeyTakenError extends TrellisError {
  constructor(key: string, pid: string) {
    super(
      'ERR_HEALTH_KEY_TAKEN',
      `health record key "${key}" is already used by the live actor ${pid}; give this actor another key (option key), e.g. "<supervisor>/<child id>"`,
      { details: { key, pid } },
    );
  }
}

/** The LMDB file of the health records or of the leases cannot be opened or used. */
export class HealthStoreUnavailableError extends TrellisError {
  constructor(path: string, cause: unknown) {
    super(
      'ERR_HEALTH_STORE_UNAVAILABLE',
      `cannot use the LMDB file ${path}: ${(cause as Error)?.message ?? String(cause)}; make the directory writable, or point TRELLIS_HOME (or the dir option) at a writable directory`,
      { cause, details: { path } },
    );
  }
}

/** Bad arguments to a lease operation, a lease store or `leaseKeeperChild`. */
export class InvalidLeaseOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_LEASE_OPTIONS';
}

/** Why a fenced write was refused. */
export type FenceRefusal = 'superseded' | 'expired' | 'released' | 'unknown_lease' | 'unknown_epoch';

/** A write carried an epoch that is no longer the lease's current, valid epoch. */
export class LeaseFencedError extends TrellisError {
  readonly refusal: FenceRefusal;
  constructor(name: string, epoch: number, currentEpoch: number | undefined, refusal: FenceRefusal) {
    const why: Record<FenceRefusal, string> = {
      superseded: `a newer leader holds epoch ${currentEpoch}`,
      expired: 'the lease expired at that epoch (no renewal in time)',
      released: 'the lease was released at that epoch',
      unknown_lease: 'the lease was never acquired',
      unknown_epoch: `the epoch is ahead of the lease's current epoch ${currentEpoch}`,
    };
    super(
      'ERR_LEASE_FENCED',
      `write to lease "${name}" with epoch ${epoch} refused: ${why[refusal]}; this process is no longer the leader, stop writing and re-acquire the lease (a new epoch) before writing again`,
      { details: { name, epoch, currentEpoch, refusal } },
    );
    this.refusal = refusal;
  }
}

/** The lease store was closed. */
export class LeaseStoreClosedError extends TrellisError {
  constructor(operation: string) {
    super(
      'ERR_LEASE_STORE_CLOSED',
      `lease store ${operation}() called after close(); open a new store (LmdbLeaseStore.open) before using leases`,
      { details: { operation } },
    );
  }
}

/** A lease keeper request arrived that it does not know, or a keeper was not found. */
export class LeaseKeeperNotFoundError extends TrellisError {
  constructor(target: string) {
    super(
      'ERR_LEASE_KEEPER_NOT_FOUND',
      `no lease keeper is running as ${target}; start leaseKeeperChild() in the tree (its server name defaults to "lease:<lease name>") or pass its pid`,
      { details: { target } },
    );
  }
}
