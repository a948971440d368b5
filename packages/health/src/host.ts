/**
 * Who and when, on this host: the identity of this process and a clock every process of the host
 * agrees on.
 *
 * Lease deadlines are compared by DIFFERENT processes, so they cannot use `performance.now()` (its
 * origin is each process's start) nor the wall clock (NTP or an operator can step it, which would
 * expire or extend every lease at once). `process.hrtime` reads CLOCK_MONOTONIC on Linux: one clock for
 * the whole host, never stepped, reset only by a reboot, which is why every lease also records the
 * kernel's boot id: a deadline from another boot is meaningless and counts as expired.
 */
import { hostname } from 'node:os';
import { readBootId, readPidNamespace, readProcStat } from '@trellis/core';

/** CLOCK_MONOTONIC in milliseconds: the same value in every process of this host at the same instant. */
export function hostMonotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

export interface HostInfo {
  readonly pid: number;
  /** Start time of this process in clock ticks since boot: with `pid` it names this process. */
  readonly startTime: number;
  readonly bootId: string;
  readonly hostname: string;
  readonly pidNamespace: string;
}

let cached: HostInfo | undefined;

/** This process's identity (read once: none of it changes while the process runs). */
export function hostInfo(): HostInfo {
  if (cached === undefined) {
    cached = Object.freeze({
      pid: process.pid,
      startTime: readProcStat(process.pid)?.startTime ?? 0,
      bootId: readBootId() ?? 'unknown',
      hostname: hostname(),
      pidNamespace: readPidNamespace('self') ?? 'unknown',
    });
  }
  return cached;
}
