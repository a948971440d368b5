/**
 * @trellis/core's public face, listed by name and grouped like the `-export` lists of OTP's modules:
 * actors, gen_server, supervisors, threads, the task pool, OS processes, errors and logging, and
 * last the names other @trellis packages use that are not meant for applications.
 *
 * Why by name: with `export *` the API was whatever the files happened to export. A name added to a
 * module is now public only when it is listed here. `@trellis/core/actor` (thread/actor-api.ts) is
 * generated from this file by scripts/gen-actor-api.mjs at build time and is not in git: it
 * re-exports the statements below whose module a thread loads anyway, so this is the one list.
 */

// ---- actors: processes, links, monitors, names, messages (erlang, proc_lib, gen:send_request) ----

export {
  type ActorBody,
  ActorContext,
  awaitExit,
  type CallOptions,
  call,
  cast,
  DEFAULT_CALL_TIMEOUT_MS,
  demonitor,
  exit,
  isAlive,
  monitor,
  register,
  type SendOptions,
  send,
  spawn,
  spawnOn,
  unregister,
  whereis,
  whereisVia,
} from './actor.js';
export {
  CallError,
  type CallFailure,
} from './call-table.js';
export {
  type Clock,
  MAX_TIMER_MS,
  SimulatedClock,
  settle,
  systemClock,
  type TimerHandle,
} from './clock.js';
export {
  assertCloneable,
  NotCloneableError,
} from './cloneable.js';
export {
  Exit,
  type ExitReason,
  type ExitSignal,
  formatReason,
  isCleanExit,
  isExitReason,
} from './exit-reason.js';
export {
  type Matcher,
  type MatchPattern,
  NO_MESSAGE,
} from './mailbox.js';
export { LocalViaRegistry } from './names/local-via.js';
export {
  formatViaName,
  isViaName,
  registerViaRegistry,
  type ServerRef,
  UnknownViaRegistryError,
  unregisterViaRegistry,
  type ViaName,
  type ViaRegistry,
  viaRegistry,
} from './names/via.js';
export {
  AlreadyRegisteredError,
  currentNode,
  NameTakenError,
  Node,
  NoProcError,
  type SpawnOptions,
} from './node.js';
export {
  isPid,
  nodeOf,
  type Pid,
  type Ref,
} from './pid.js';
export {
  type CallMessage,
  type CastMessage,
  ConcurrentReceiveError,
  type DownMessage,
  type ExitMessage,
  type NameDownMessage,
  ProcessExitedSignal,
  type SystemMessage,
  TIMEOUT,
  type Timeout,
} from './process.js';
export {
  checkResponse,
  type LabeledResponse,
  ReqId,
  ReqIdCollection,
  type Response,
  receiveResponse,
  reqIdsAdd,
  reqIdsNew,
  reqIdsSize,
  reqIdsToList,
  sendRequest,
  waitResponse,
} from './send-request.js';

// ---- gen_server, gen_statem (and sys) ----

export type {
  FormatStatus,
  ServerCrash,
  StatusInfo,
} from './crash-report.js';
export {
  IGNORE,
  type Ignore,
  InitFailedError,
  ServerContext,
  type StartServerOptions,
  StartTimeoutError,
} from './gen.js';
export {
  type Action,
  type CallResult,
  type CastResult,
  defineServer,
  type GenServer,
  type IgnoreResult,
  type InitResult,
  ignore,
  NoHandlerError,
  type NoReplyResult,
  noreply,
  type OkResult,
  ok,
  type ReplyResult,
  reply,
  type StopResult,
  startServer,
  stop,
} from './gen-server.js';
export {
  BadStatemResultError,
  defineStatem,
  type GenStatem,
  type HandleEventStatem,
  isStatem,
  type StateFunctionsStatem,
  type StatemInitResult,
  startStatem,
  statemChild,
} from './gen-statem/gen-statem.js';
export {
  cancelTimeout,
  type EnterEvent,
  eventTimeout,
  genericTimeout,
  hibernateAction,
  type InsertableEvent,
  keepState,
  keepStateAndData,
  nextEvent,
  nextState,
  postpone,
  repeatState,
  repeatStateAndData,
  replyAction,
  STATEM,
  type StatemAction,
  type StatemEvent,
  type StatemResult,
  stateTimeout,
  stopStatem,
} from './gen-statem/results.js';
export {
  getState,
  getStatus,
  replaceState,
  type ServerStatus,
  StopTimeoutError,
  type SysOptions,
  type SysRequest,
  SysState,
  stopServer,
  trace,
} from './sys.js';

// ---- supervisors and applications (supervisor, application) ----

export {
  type Application,
  type StartOptions,
  start,
} from './application.js';
export { EventFanout } from './event-fanout.js';
export {
  EventBus,
  type EventListener,
  eventBus,
  type SupervisorEvent,
  type SupervisorEventMessage,
} from './events.js';
export { type CheckChildSpecsResult, checkChildSpecs } from './supervisor/check-child-specs.js';
export {
  type BackoffOptions,
  CHILD_DEFAULTS,
  type ChildSpec,
  type ChildType,
  type RestartType,
  type ServerChildOptions,
  type Shutdown,
  type StartContext,
  type StartFn,
  serverChild,
} from './supervisor/child-spec.js';
export {
  type AutoShutdown,
  type Strategy,
  SUPERVISOR_DEFAULTS,
  type SupervisorFlags,
} from './supervisor/flags.js';
export {
  type ChildCounts,
  type ChildInfo,
  countChildren,
  deleteChild,
  getChildSpec,
  resetBackoff,
  restartChild,
  SupervisorRequestError,
  startChild,
  terminateChild,
  whichChildren,
} from './supervisor/requests.js';
export {
  type StartSupervisorOptions,
  type SupervisorSpec,
  SupervisorStartError,
  startSupervisor,
  supervisorChild,
} from './supervisor/supervisor.js';

// ---- threads: actors on worker threads of their own ----

export {
  InvalidThreadOptionsError,
  ThreadExitError,
  ThreadModuleError,
  ThreadOutOfMemoryError,
  ThreadSpawnUnavailableError,
  ThreadUncaughtError,
} from './thread/errors.js';
export {
  liveThreads,
  type SpawnThreadOptions,
  spawnThread,
  type ThreadChildOptions,
  type ThreadStartFn,
  threadChild,
} from './thread/thread-actor.js';
export {
  type DroppedItem,
  setThreadWarningHook,
  type ThreadWarning,
  type ThreadWarningHook,
  TRANSPORT_DEFAULTS,
} from './thread/transport.js';

// ---- task pool: stateless tasks on piscina threads ----

export {
  InvalidTaskPoolOptionsError,
  type RunTaskOptions,
  runTask,
  TASK_POOL_DEFAULTS,
  TaskAbortedError,
  TaskFailedError,
  TaskNotCloneableError,
  TaskPoolNoProcError,
  type TaskPoolOptions,
  type TaskPoolStats,
  TaskPoolStoppedError,
  TaskQueueFullError,
  TaskTimeoutError,
  TaskWorkerDiedError,
  taskPoolChild,
  taskPoolStats,
} from './task-pool/task-pool.js';

// ---- OS processes ----

export {
  InvalidSpawnOptionsError,
  type MarkerPlacement,
  type ProcessExit,
  type ProcessHandle,
  SPAWN_PROCESS_DEFAULTS,
  SpawnFailedError,
  type SpawnProcessOptions,
  type StopProcessOptions,
  spawnProcess,
} from './os/spawn-process.js';

// ---- errors and logging ----

export {
  DuplicateChildError,
  InvalidChildSpecError,
  InvalidOptionsError,
  InvalidSupervisorFlagsError,
  TrellisError,
} from './errors.js';
export {
  createDefaultLogger,
  createMemoryLogger,
  getLogger,
  type LogFn,
  type LogLevel,
  type LogRecord,
  type MemoryLogger,
  setLogger,
  type TrellisLogger,
} from './logger.js';
export { NodeDownError, type NodeErrorExtra, NodeUnreachableError } from './node-errors.js';

// ---- internal to @trellis packages (registry, health, grpc-bridge, observer, chaos): not API ----

export {
  CallTable,
  callingSelfError,
  callTimeoutError,
  noprocError,
  serverExitedError,
} from './call-table.js';
export {
  applyFormatStatus,
  reasonFields,
  reportInitCrash,
  reportServerCrash,
} from './crash-report.js';
export {
  describeValue,
  deserializeError,
  isSerializedError,
  type SerializedError,
  serializeError,
} from './errors.js';
export {
  decodeReason,
  encodeReason,
} from './exit-reason.js';
export { type BehaviourLoop, registerViaName, startBehaviour } from './gen.js';
export { isIgnoreResult, isStopResult } from './gen-server.js';
export {
  Mailbox,
  toPredicate,
} from './mailbox.js';
export {
  getProcessTracker,
  type ProcessActivation,
  type ProcessTracker,
  RUN_ID_ENV,
  RUN_MARKER_PREFIX,
  runMarker,
  setProcessTracker,
  type TrackedProcessInfo,
} from './os/process-tracker.js';
export {
  isExitedState,
  isProcessAlive,
  listProcessGroupMembers,
  listProcessIds,
  type ProcStat,
  parseProcStat,
  procfsAvailable,
  readBootId,
  readPidNamespace,
  readProcCmdline,
  readProcEnvironValue,
  readProcStat,
} from './os/procfs.js';
export {
  makePid,
  makeRef,
} from './pid.js';
export type {
  CallFrom,
  RemoteRouter,
  Signal,
  Transferable,
} from './signals.js';
export {
  BackoffState,
  backoffDelay,
} from './supervisor/backoff.js';
export {
  type NormalizedChildSpec,
  normalizeBackoff,
  normalizeChildSpec,
} from './supervisor/child-spec.js';
export { normalizeFlags } from './supervisor/flags.js';
export { RestartIntensity } from './supervisor/restart-intensity.js';
