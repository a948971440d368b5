/** Every default of @trellis/health in one place (frozen). */
export const HEALTH_DEFAULTS = Object.freeze({
  /** Registered name of the health monitor in its thread. */
  name: 'trellis-health',
  /** Child id of `healthMonitorChild`. */
  childId: 'trellis-health',
  /** Expected time between two heartbeats of a monitored actor. */
  intervalMs: 1000,
  /** An active actor turns stale after this many intervals without a heartbeat. */
  staleAfterIntervals: 3,
  /** An actor still `initializing` (no first heartbeat) this long after it was registered turns stale. */
  startupTimeoutMs: 10_000,
  /** A stale actor turns failed after staying stale this many more intervals. */
  failAfterIntervals: 3,
  policy: 'report' as const,
  /** How often the monitor checks every slot for missed deadlines (the detection granularity). */
  scanIntervalMs: 100,
  /** How often changed records are written to LMDB, in ONE write transaction. */
  flushIntervalMs: 500,
  /** Records of this many dead runs are kept for post-mortems; older dead runs are deleted at boot. */
  retainDeadRuns: 5,
  /** LMDB file of the health records, inside the registry directory. */
  fileName: 'health.mdb',
  schemaVersion: 1,
  /** Early beats (from a pid not registered yet) kept at most this many, and this long. */
  maxEarlyBeats: 10_000,
  earlyBeatTtlMs: 60_000,
  /** Restart statistics kept for at most this many (supervisor, child id) pairs. */
  maxChildStats: 10_000,
  /** Longest record key accepted. */
  maxKeyLength: 256,
});

/** Every default of the leases in one place (frozen). */
export const LEASE_DEFAULTS = Object.freeze({
  /** LMDB file of the leases, inside the registry directory. */
  fileName: 'leases.mdb',
  schemaVersion: 1,
  /** The keeper renews this many times per TTL (renewIntervalMs = ttlMs / renewsPerTtl). */
  renewsPerTtl: 3,
  /** Release the lease when the keeper is stopped in order (a clean hand-over to a follower). */
  releaseOnStop: true,
  /** Longest lease name and fenced-data key accepted. */
  maxNameLength: 256,
  /** Bounds of a TTL. */
  minTtlMs: 10,
  maxTtlMs: 24 * 60 * 60 * 1000,
});
