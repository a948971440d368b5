/**
 * WorkerHandle: everything the pool reads of one worker's process, and nothing more.
 *
 * The pool (PoolRuntime, stats), the dispatcher (PoolWorker), the Call seam and its drivers, and the
 * PythonWorker actor used to hold a WorkerProcess, the local child process. A worker on another node
 * (issue 15: its process is spawned by the agent there, and the pool talks to its gRPC server over
 * mTLS) must fit in the same places, so they are typed against this interface instead. WorkerProcess
 * (worker-process.ts) implements it for a local child; @trellis/cluster's RemoteWorker for a worker
 * an agent runs. Keep this list exact: a field a consumer reads that is not here is a field a remote
 * worker cannot give.
 */
import type { TrellisError } from '@trellis/core';
import type { WorkerExit } from '../errors.js';
import type { DescribeResponse__Output } from '../generated/trellis/bridge/v1/DescribeResponse.js';
import type { ToolServiceClient } from '../generated/trellis/bridge/v1/ToolService.js';
import type { LaneClient } from '../lane/lane-client.js';

/** A tool as the workers describe it. */
export interface ToolDescription {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the argument object. */
  readonly parameters: Record<string, unknown>;
  /** A generator tool: call it with `pool.stream`. */
  readonly streaming: boolean;
  /** The parameter that receives raw bytes (a Buffer argument), if the tool has one. */
  readonly rawBytesParameter: string | undefined;
  /** Declared safe to retry by its author (`@tool(idempotent=True)`). */
  readonly idempotent: boolean;
}

/** The node a remote worker runs on: its name and which life of it (a rejoin is a new incarnation). */
export interface WorkerNode {
  readonly node: string;
  readonly incarnation: number;
}

/** What the pool, the dispatcher, the Call seam and PythonWorker use of a worker's process. */
export interface WorkerHandle {
  /** The OS pid on the worker's machine (on another node for a remote worker: never signal it here). */
  readonly pid: number;
  /** What the client dials: `unix:/...`, `127.0.0.1:PORT`, or the agent node's `host:PORT`. */
  readonly address: string;
  /** Its ToolService client; carries the pool's secret, and mTLS for a remote worker. */
  readonly client: ToolServiceClient;
  /** Its call lane, when it offers one; always undefined for a remote worker (the lane is local). */
  readonly lane: LaneClient | undefined;
  readonly tools: readonly ToolDescription[];
  /** Its Describe answer. */
  readonly info: DescribeResponse__Output;
  /** Milliseconds from the launch request to ready. */
  readonly startMs: number;
  /** The memory limit it runs under (MiB; Infinity: none). */
  maxRssMb: number;
  /** Set for a worker on another node; undefined for a local one. */
  readonly node?: WorkerNode | undefined;

  /** How it ended, once it has (`exit.node` set when its node went down or became unreachable). */
  readonly exit: WorkerExit | undefined;
  /** Resolves when it has exited and nothing of it is left to clean up on its machine. */
  readonly exited: Promise<WorkerExit>;
  /** Calls `cb` synchronously when it exits (at once if it already has). */
  onExit(cb: (exit: WorkerExit) => void): void;
  /** The end of its stderr, for diagnosis ('' when the host cannot see it). */
  stderrTail(): string;

  /** True once the host itself stopped or killed it: such a death is not a crash (no taint). */
  readonly killedByHost: boolean;
  /** The kernel's OOM-kill count when it started (undefined: unknown, e.g. another machine's kernel). */
  readonly oomKillsAtStart: number | undefined;
  /** Why the host killed it for a fault of its own (missed heartbeats, memory limit), if it did. */
  readonly killCause: TrellisError | undefined;
  /** SIGKILL, recording why (see killCause). */
  killFor(cause: TrellisError): void;
  /** SIGKILL to it and its group, no drain. */
  kill(): void;
  /**
   * SIGTERM (it refuses new calls, gives calls in flight its grace, exits), SIGKILL after
   * `killAfterMs`; resolves when it is gone.
   */
  stop(killAfterMs: number): Promise<WorkerExit>;
  /** Releases the channel and what the process left (socket file); call after it exited. */
  close(): void;

  /** Its exact resident set size in bytes (at heartbeats); undefined when the host cannot read it. */
  readRss(): number | undefined;
  /**
   * A cheap RSS read for the pool's frequent memory poll; undefined when the host cannot read it (a
   * remote worker: its own cap, `--max-rss-mb`, enforces the limit on its machine).
   */
  sampleRss(): number | undefined;
  /** User + system CPU seconds of the process; undefined when the host cannot read it. */
  readCpuSeconds(): number | undefined;
}

/** A tool of a worker's Describe answer, as the pool uses it (a remote worker's handle too). */
export function describeTool(t: DescribeResponse__Output['tools'][number]): ToolDescription {
  let parameters: Record<string, unknown> = {};
  try {
    parameters = JSON.parse(t.parametersJsonSchema || '{}');
  } catch {
    // A worker of this protocol always sends valid JSON; an empty schema is the safe reading.
  }
  return {
    name: t.name,
    description: t.description,
    parameters,
    streaming: t.streaming,
    rawBytesParameter: t.rawBytesParameter || undefined,
    idempotent: t.idempotent,
  };
}
