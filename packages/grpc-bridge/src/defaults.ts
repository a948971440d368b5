/** Every default of @trellis/grpc-bridge in one frozen object (docs/grpc-bridge.md lists them). */
import { availableParallelism } from 'node:os';

export const BRIDGE_DEFAULTS = Object.freeze({
  /** Python workers in a pool. */
  size: Math.max(1, availableParallelism()),
  /** Calls one Python worker runs at once (`--concurrency`: its thread pool for sync tools). */
  concurrency: 4,
  /** Calls the dispatcher sends to one worker at once; defaults to `concurrency`. */
  maxConcurrentPerWorker: undefined as number | undefined,
  /** Calls waiting for a worker; one more fails at once with ERR_POOL_SATURATED. */
  maxQueue: 1000,
  /** Longest wait in the queue before ERR_QUEUE_TIMEOUT. */
  queueTimeoutMs: 5000,
  /** Overall budget of a call (queue wait included) when the call gives no `timeoutMs`. */
  callTimeoutMs: 30_000,
  /** Largest request, result or stream item, both ways (`--max-message-bytes`). */
  maxMessageBytes: 16 * 1024 * 1024,
  /** On shutdown, time the worker's in-flight calls get to finish (it takes no new ones meanwhile). */
  graceMs: 5000,
  /**
   * After the drain, SIGTERM: the worker cancels whatever still runs (tools see ctx.cancelled) and
   * exits within this time (its `--grace-ms`)...
   */
  cancelGraceMs: 500,
  /** ...and is SIGKILLed (with its process group) if it has not exited this much later. */
  killMarginMs: 500,
  /**
   * Added to `graceMs` for the worker's supervisor shutdown time; more than cancelGraceMs +
   * killMarginMs, so the supervisor never cuts a drain short.
   */
  shutdownMarginMs: 2000,
  /** Spawn until readiness line, connected channel and tool list. */
  startTimeoutMs: 30_000,
  /** Host-to-worker heartbeat period; each heartbeat must be answered within it. */
  heartbeatIntervalMs: 2000,
  /** Consecutive unanswered heartbeats after which the worker is killed (ERR_HEARTBEAT_MISSED). */
  heartbeatMisses: 3,
  /**
   * Heartbeats in a row that must report abandoned executions (tools still holding a slot after
   * their call ended) before the worker is recycled as wedged; at once when they hold every slot.
   * Infinity: never recycled for it (the abandoned slots still count as load in dispatch).
   */
  wedgeBeats: 3,
  /**
   * After a call ends by deadline or cancellation, the worker's next heartbeat is sent this soon
   * (instead of a whole interval later), to learn whether the tool let go of its slot.
   */
  abandonProbeMs: 20,
  /** Restarts of workers allowed within `restartPeriodMs` before the pool's supervisor gives up. */
  restartIntensity: 10,
  restartPeriodMs: 10_000,
  /**
   * A call that fails at the transport level (connection dropped) waits this long for its worker's
   * exit to be reported, so it can fail with ERR_WORKER_EXITED and the exit code or signal.
   */
  exitAttributionMs: 250,
  /** Latency samples kept for p50/p99 in `stats()`. */
  latencyWindow: 2048,
  /** Stream items buffered for a slow consumer before the gRPC stream is paused. */
  streamHighWaterMark: 16,
  /** Calls go over each worker's call lane (docs/grpc-bridge.md, "The call lane"). */
  lane: true,
  /** Payloads of at least this many bytes go through shared memory on the lane. */
  shmThresholdBytes: 1024 * 1024,
  /** The largest shared-memory payload, either way (separate from maxMessageBytes). */
  maxShmBytes: 1024 * 1024 * 1024,
  /**
   * Results mapped into the host (not read) while this process's live mappings total at most this
   * (V8 does not count them, so it is their bound; over it results are read into counted Buffers).
   */
  maxMappedBytes: 1024 * 1024 * 1024,
  /** Bytes of each worker's stderr kept for error messages. */
  stderrTailBytes: 8192,
  /**
   * Longest stderr line given whole to `onStderr`; a longer one (a `\r` progress bar, a dumped blob)
   * is cut to this many bytes and marked, so memory and event-loop time stay flat.
   */
  maxStderrLineBytes: 64 * 1024,
  /** `unix` (a socket per worker in a private temp directory) or `tcp` (127.0.0.1, port 0). */
  transport: 'unix' as 'unix' | 'tcp',
  /** Environment variable naming the Python interpreter to use instead of `<repo>/.venv/bin/python`. */
  pythonEnv: 'TRELLIS_PYTHON',
  /** Longest Unix socket path the kernel accepts (sun_path is 108 bytes with the NUL). */
  maxSocketPath: 107,
  /** Longest readiness line; more bytes without a newline count as garbage on stdout. */
  maxReadyLineBytes: 64 * 1024,
  /** Session affinity of calls with a session id: `hint`, `strict-queue` or `strict-fail-fast`. */
  affinity: 'hint' as 'hint' | 'strict-queue' | 'strict-fail-fast',
  /** A session unused this long is ended (EndSession on its worker); Infinity keeps it until endSession. */
  sessionTtlMs: 3_600_000,
  /** How often expired sessions are looked for. */
  sessionSweepMs: 1000,
  /** Recycle a worker this old (ms); Infinity: never. */
  ttlMs: Number.POSITIVE_INFINITY,
  /** Recycle a worker after it has served this many calls; Infinity: never. */
  maxCalls: Number.POSITIVE_INFINITY,
  /**
   * Hard memory limit of a worker's Python process (MiB); Infinity: none. The worker caps its own
   * data segment to stay within it, the host polls its RSS every `rssPollMs` and kills it above it
   * (ERR_WORKER_MEMORY_LIMIT), and replaces it gracefully above `softRssRatio` of it.
   */
  maxRssMb: Number.POSITIVE_INFINITY,
  /** How often the host reads each worker's RSS (/proc/<pid>/statm) when `maxRssMb` is set. */
  rssPollMs: 100,
  /** Share of `maxRssMb` above which a worker is recycled gracefully (it keeps serving meanwhile). */
  softRssRatio: 0.8,
  /** Quarantine: a tool that crashed `crashes` workers within `windowMs` is refused for `cooldownMs`. */
  quarantine: Object.freeze({ crashes: 3, windowMs: 60_000, cooldownMs: 60_000 }),
  /**
   * Circuit breaker (off unless the circuitBreaker option is given): `failures` failures with one of
   * `codes` within `windowMs` open it; after `cooldownMs` one probe call is let through.
   */
  circuitBreaker: Object.freeze({
    failures: 5,
    windowMs: 10_000,
    cooldownMs: 5000,
    codes: Object.freeze([
      'ERR_WORKER_EXITED',
      'ERR_WORKER_UNAVAILABLE',
      'ERR_DEADLINE_EXCEEDED',
      'ERR_QUEUE_TIMEOUT',
      'ERR_TRANSPORT',
    ]),
  }),
  /** Deadline of an EndSession sent to a worker. */
  endSessionTimeoutMs: 2000,
});
