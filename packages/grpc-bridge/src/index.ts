/**
 * @trellis/grpc-bridge: supervised pools of Python tool servers (trellis_worker) called over gRPC.
 * Guide: docs/grpc-bridge.md. Errors: docs/errors.md (section @trellis/grpc-bridge).
 */

export { ARROW_TYPE, ArrowMissingError, type ArrowTableLike } from './arrow.js';
export { ToolStream } from './call/stream.js';
export { BRIDGE_DEFAULTS } from './defaults.js';
export {
  CircuitOpenError,
  HeartbeatMissedError,
  InvalidPoolOptionsError,
  PoolClosedError,
  PoolSaturatedError,
  PythonEnvError,
  PythonNotFoundError,
  QueueTimeoutError,
  SessionWorkerGoneError,
  ToolCallError,
  type ToolCallFailure,
  ToolQuarantinedError,
  WorkerBusyError,
  type WorkerExit,
  WorkerExitedError,
  type WorkerExitNode,
  WorkerMemoryLimitError,
  WorkerStartError,
} from './errors.js';
export { checkArgs, type HostTool, type HostToolContext, type HostToolFn } from './host-service.js';
export { BYTES_TYPE, JSON_TYPE, type ToolArgs, ToolPayload } from './payload.js';
export type { PoolEvent, PoolEventListener, PoolEventType, WorkerExitReason } from './pool/events.js';
export type {
  AffinityMode,
  CallOptions,
  CircuitBreakerOptions,
  PythonLogRecord,
  QuarantineOptions,
  StreamOptions,
  ToolPoolOptions,
} from './pool/options.js';
export {
  type HostListen,
  type PlacementNode,
  type PlacementOptions,
  type PlacementProvider,
  type RemoteLaunch,
  registerPlacementProvider,
  unregisterPlacementProvider,
} from './pool/placement.js';
export { type CircuitState, isCrash, oomKillCount } from './pool/robustness.js';
export { type RunningPool, runningPools } from './pool/running-pools.js';
export {
  leastLoaded,
  type SelectionRequest,
  type WorkerSelector,
  type WorkerView,
} from './pool/selection.js';
export type { CreateSessionOptions, Session } from './pool/sessions.js';
export type { NodeStatsView, PoolStats, WorkerStatsView } from './pool/stats.js';
export { ToolPool } from './pool/tool-pool.js';
export {
  createToolClient,
  ERROR_METADATA_KEY,
  findProtoRoot,
  PROTOCOL,
  SECRET_METADATA_KEY,
  type ToolClientTls,
} from './protos.js';
export type { WorkerLogListener, WorkerLogRecord } from './telemetry/worker-log.js';
export { killCgroup, newWorkerTag, ownCgroupDir, WorkerCgroups } from './worker/descendants.js';
export { findRepoRoot, type PythonSource, type ResolvedPython, resolvePython } from './worker/python.js';
export {
  findUv,
  type ProvisionedEnv,
  type PythonEnvSpec,
  provisionPythonEnv,
  venvCacheDir,
} from './worker/python-env.js';
export { PythonWorker } from './worker/python-worker.js';
export {
  describeTool,
  type ToolDescription,
  type WorkerHandle,
  type WorkerNode,
} from './worker/worker-handle.js';
export {
  SECRET_ENV,
  type WorkerLaunchOptions,
  WorkerProcess,
  type WorkerTls,
} from './worker/worker-process.js';
