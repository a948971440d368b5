/** Every default and bound of the chaos and soak suite, in one frozen object (docs/reliability.md). */
export const CHAOS_DEFAULTS = Object.freeze({
  /** `pnpm chaos`: load time, kill -9 and fresh start included. */
  chaosDurationMs: 120_000,
  /** `pnpm soak`: at least 10 minutes. */
  soakDurationMs: 600_000,
  /** Shortest chaos run that still has room for a host kill, a fresh start and a fault tail. */
  minChaosDurationMs: 20_000,
  /** Concurrent callers driving the system under test. */
  callers: 8,
  /** Pause of each caller between two calls (keeps the load steady, not saturating). */
  paceMs: 12,
  /** How often the system under test reports its ledger and events to the driver. */
  reportMs: 250,
  /** Resource samples (RSS, fds, throughput, p99) in a chaos run and in a soak. */
  chaosSampleMs: 1000,
  soakSampleMs: 5000,

  // ---- faults ----
  /** Mean gap between two faults (each gap uniform in 0.5-1.5 x this). */
  meanFaultGapMs: 1500,
  /** No fault is scheduled in the first/last this-many ms of the load, so every effect shows before the end. */
  faultLeadMs: 3000,
  faultTailMs: 9000,
  /** The host is killed with SIGKILL at a random point in this fraction of the run. */
  hostKillWindow: Object.freeze([0.35, 0.55] as const),
  /** Time after the host kill left free of faults (the fresh host is starting). */
  restartGapMs: 6000,
  /** SIGSTOP shorter than one heartbeat (cannot cost a worker) and longer than the miss limit (must). */
  stopShortMs: Object.freeze([100, 400] as const),
  stopLongMs: 6000,
  /** How long the disk-full fault keeps the home full after the registry refused a record. */
  diskFullHoldMs: Object.freeze([100, 500] as const),
  /** Size of the home's own tmpfs (root only): room for the registry, health and lease files. */
  smallHomeMiB: 32,
  /** Heartbeats of the chaos pools: 3 misses at 500 ms detect a stopped worker within ~3.5 s. */
  heartbeatIntervalMs: 500,
  heartbeatMisses: 3,
  /** The leak fault keeps this many MiB per call in one worker of pool A ... */
  leakMbPerCall: 24,
  /** ... whose `maxRssMb` (the bridge's recycling limit; an idle worker is ~40 MiB) it must cross. */
  poolAMaxRssMb: 120,
  /** After the leak crosses maxRssMb, or the stuck call's deadline, the bridge must have recycled the worker within this long. */
  recycleWithinMs: 5000,
  leakMaxCalls: 10,
  /** The hard-leak fault: MiB per call, far past the pool's maxRssMb in one call (issue 13: 100). */
  leakHardMbPerCall: 100,
  /** The one-line stderr flood: one line of this many MiB without a newline (a `\r` progress bar). */
  stderrFloodMib: 50,
  /** Pool A's shared-memory threshold: a result of at least this many bytes travels through a memfd (or a /dev/shm file). */
  poolAShmThresholdBytes: 1024 * 1024,
  /** The shm-full fault caps its worker's file size (RLIMIT_FSIZE) at this for one call ... */
  shmFullCapBytes: 4 * 1024 * 1024,
  /** ... and asks that call for a shared buffer of this size, over the cap: no room. */
  shmFullAskBytes: 8 * 1024 * 1024,
  /** The result both shared-memory faults then take from that worker (over the threshold, under the cap). */
  shmResultBytes: 2 * 1024 * 1024,
  /** A worker's RSS may exceed its maxRssMb by at most this share (the kernel cap plus the 100 ms poll). */
  rssOvershoot: 0.1,
  /** A SIGSTOPped worker must be killed within (heartbeatMisses + 1) intervals, plus this slack. */
  stopDetectSlackMs: 1000,
  /** A stuck (non-cooperative) tool holds its thread this long (its call's deadline is 1 s). */
  stuckHoldS: 8,
  /** Longest a fault may take to show (an exit, or a restart after it) before it counts as missing. */
  manifestMs: Object.freeze({ default: 5000, stopLong: 10_000, oom: 12_000, leak: 8000, restart: 15_000 }),
  /** Time-out of the hang faults' calls (their tools run for much longer). */
  hangCallTimeoutMs: 1000,
  /** Heap limit of the thread actors: the OOM fault must reach it quickly. */
  threadHeapLimitMb: 48,

  // ---- calls ----
  /** Time-outs the load gives its calls; the harness adds callSlackMs before it calls a hang. */
  poolCallTimeoutMs: 3000,
  poolQueueTimeoutMs: 2000,
  actorCallTimeoutMs: 2000,
  taskTimeoutMs: 3000,
  faultCallTimeoutMs: 15_000,
  callSlackMs: 5000,

  // ---- the tree ----
  poolASize: 3,
  poolBSize: 2,
  poolRestartIntensity: 40,
  poolRestartPeriodMs: 10_000,
  leaseTtlMs: 3000,
  registryGraceMs: 1000,

  // ---- verdicts ----
  /** Host RSS after warm-up: end <= start * factor + plusMb (docs/reliability.md says why). */
  rssBound: Object.freeze({ factor: 1.5, plusMb: 50, warmupMs: 10_000, windowMs: 5000 }),
  /** Soak leak rule: least-squares slope over the second half AND the rise it implies over that half. */
  soakLeak: Object.freeze({
    hostRssMbPerMin: 2,
    hostRssRiseMb: 10,
    fdPerMin: 0.5,
    fdRise: 3,
    workerRssMbPerMin: 1,
    workerRssRiseMb: 5,
  }),
  /** How long the end-of-run settle may take (pools back to full size, children running, calls done). */
  settleTimeoutMs: 30_000,
  /** After a host kill, A's self-exiting workers have this long to go before the orphans are counted. */
  orphanSettleMs: 6000,

  // ---- fuzz (counts at scale 1; `--fuzz-scale` multiplies them) ----
  fuzzCounts: Object.freeze({
    socket: 300,
    protobuf: 300,
    args: 400,
    unknownTool: 200,
    childSpec: 1000,
  }),
  /** Runs of 60 s or less (the CI version) fuzz at this scale unless --fuzz-scale says otherwise. */
  shortRunFuzzScale: 0.2,
  fuzzMaxMessageBytes: 1024 * 1024,
  /** How long the socket fuzzer watches a connection for the server's answer. */
  fuzzSocketWatchMs: 200,
  /** The stuck-tool probe: the pool must serve a clean batch within this long after the stuck call. */
  stuckProbeRecoverMs: 8000,
});

export type FuzzKind = keyof typeof CHAOS_DEFAULTS.fuzzCounts;
