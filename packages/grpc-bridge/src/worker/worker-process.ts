/**
 * One Python worker OS process and its gRPC channel, below the actor level: spawn, readiness, tool
 * list, exit tracking and the two ways to stop it. The PythonWorker actor (python-worker.ts) owns
 * one of these; the Launcher (launcher.ts) may start it before the actor exists, so that a pool's
 * workers all start at once.
 *
 * Spawning goes through core's `spawnProcess`: the registry records the child before it exists,
 * the child carries the run marker on its command line and leads its own process group. It is
 * spawned directly (no shell), from this thread, with `--host-pid` set to this process: the worker
 * arms the kernel's parent-death signal and checks its parent, and it treats EOF on stdin as the
 * host's death, so stdin stays an open pipe for the process's whole life (never ended by us).
 */
import { readFileSync, rmSync } from 'node:fs';
import type { ServiceError } from '@grpc/grpc-js';
import {
  type Clock,
  getLogger,
  getProcessTracker,
  type ProcessHandle,
  runMarker,
  SpawnFailedError,
  spawnProcess,
  type TimerHandle,
  type TrellisError,
} from '@trellis/core';
import { PythonNotFoundError, type WorkerExit, WorkerStartError } from '../errors.js';
import type { DescribeResponse__Output } from '../generated/trellis/bridge/v1/DescribeResponse.js';
import type { ToolServiceClient } from '../generated/trellis/bridge/v1/ToolService.js';
import { type HostCallRunner, LaneClient, type LaneShm } from '../lane/lane-client.js';
import { oomKillCount } from '../pool/robustness.js';
import { createToolClient, type ToolClientTls } from '../protos.js';
import { readCpuSeconds } from '../telemetry/proc-cpu.js';
import {
  CGROUP_ENV,
  cgroupMembers,
  killAndRemoveCgroup,
  killCgroup,
  killTagged,
  TAG_ENV,
} from './descendants.js';
import { readStatmRss } from './memory-limit.js';
import { type ResolvedPython, sdkInstallHint } from './python.js';
import { type ReadyLine, ReadyLineReader } from './readiness.js';
import { StderrReader } from './stderr-lines.js';
import { describeTool, type ToolDescription, type WorkerHandle } from './worker-handle.js';

/** The environment variable that hands the worker its secret (trellis_worker/guard.py). */
export const SECRET_ENV = 'TRELLIS_WORKER_SECRET';

export type { ToolDescription } from './worker-handle.js';

export interface WorkerLaunchOptions {
  readonly python: ResolvedPython;
  /** `--tools` references (module names, or absolute paths to .py files). */
  readonly tools: readonly string[];
  /**
   * `unix:/path` or `127.0.0.1:0`; or `host:port` on a non-loopback address, which the worker allows
   * only with `tls` (an agent's worker that a pool on another node calls).
   */
  readonly listen: string;
  /** mTLS for the worker's server (and its `--host-address` client), and for this side's client. */
  readonly tls?: WorkerTls | undefined;
  /** The socket file to remove after the worker exits (unix transport). */
  readonly socketPath: string | undefined;
  readonly concurrency: number;
  readonly maxMessageBytes: number;
  /** Open the worker's call lane after Describe (else every call is a gRPC unary RPC). */
  readonly lane?: boolean;
  /** Shared-memory payloads on the lane (shm/segments.ts); undefined: none. */
  readonly shm?: LaneShm | undefined;
  /** The worker's `--grace-ms`: how long it lets calls run after SIGTERM before cancelling them. */
  readonly graceMs: number;
  readonly startTimeoutMs: number;
  /**
   * How long a spawn the registry refuses (ERR_REGISTRY_UNAVAILABLE: a full or read-only home) is
   * retried, within startTimeoutMs, before the start fails with that error. 0 (the default) at a
   * pool's first start, so the caller hears of it at once; for a restart of a slot, the pool gives
   * what keeps failed starts under its restart intensity (pool/runtime.ts #registryWaitMs).
   */
  readonly registryWaitMs?: number;
  readonly cwd: string;
  /** Environment of the worker; the secret below is added to it (never on the command line). */
  readonly env: NodeJS.ProcessEnv;
  /** The per-run secret every call must carry (TRELLIS_WORKER_SECRET in the worker's environment). */
  readonly secret?: string | undefined;
  /** A cgroup (v2) of its own for the worker and its descendants, if cgroups can be used here. */
  readonly cgroup?: string | undefined;
  /** Its environment tag, inherited by its descendants (the fallback without a cgroup). */
  readonly tag?: string | undefined;
  /** The pool's maxRssMb: the worker caps its own memory to it (`--max-rss-mb`). */
  readonly maxRssMb?: number | undefined;
  /** Recorded in the registry, e.g. `pool/worker-2`. */
  readonly name: string;
  readonly stderrTailBytes: number;
  /** Longest stderr line given whole to `onStderr`; longer ones are cut (stderr-lines.ts). */
  readonly maxStderrLineBytes: number;
  readonly maxReadyLineBytes: number;
  readonly onStderr: ((line: string, pid: number) => void) | undefined;
  readonly clock: Clock;
  /** The host's HostService (`--host-address`), when the pool serves host tools. */
  readonly hostAddress?: string | undefined;
  /** Runs the host tool calls the worker sends over its lane (the pool's HostService), if any. */
  readonly hostCalls?: HostCallRunner | undefined;
  /** Called once the process exists (before readiness), e.g. for a `worker_started` event. */
  readonly onSpawned?: ((pid: number) => void) | undefined;
}

/**
 * A worker's mTLS: the files it reads (`--tls-ca/--tls-cert/--tls-key`; its server requires client
 * certificates of that CA, and it dials `--host-address` with them), which this side also uses to
 * dial it. The certificate must carry `serverName` as a DNS name (the cluster's node certificates do).
 */
export interface WorkerTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /**
   * The DNS name checked in the worker's certificate, and in the pool's HostService's when the
   * worker dials it (`--tls-server-name`; default 'trellis-node', the cluster certificates' name).
   */
  readonly serverName?: string | undefined;
}

type ExitListener = (exit: WorkerExit) => void;

export class WorkerProcess implements WorkerHandle {
  readonly handle: ProcessHandle;
  readonly pid: number;
  readonly tools: readonly ToolDescription[];
  maxRssMb = Number.POSITIVE_INFINITY;
  readonly #io: ProcessIo;
  readonly #socketPath: string | undefined;
  #closed = false;

  // The rest of WorkerHandle's fields (documented there) are parameter properties: the interface
  // lists them, the class does not list them a second time. startMs: from spawn to ready (readiness
  // line, channel connected, tools described).
  private constructor(
    io: ProcessIo,
    readonly address: string,
    readonly client: ToolServiceClient,
    readonly info: DescribeResponse__Output,
    readonly startMs: number,
    socketPath: string | undefined,
    readonly lane: LaneClient | undefined,
  ) {
    this.#io = io;
    this.handle = io.handle;
    this.pid = io.handle.pid;
    this.tools = info.tools.map(describeTool);
    this.#socketPath = socketPath;
  }

  /** Spawns a worker and resolves once it is ready to take calls; rejects with a precise start error. */
  static async launch(o: WorkerLaunchOptions): Promise<WorkerProcess> {
    const t0 = o.clock.now();
    const args = [
      '-m',
      'trellis_worker',
      '--tools',
      o.tools.join(','),
      '--listen',
      o.listen,
      `--host-pid=${process.pid}`,
      '--concurrency',
      String(o.concurrency),
      '--max-message-bytes',
      String(o.maxMessageBytes),
      '--grace-ms',
      String(o.graceMs),
      // One JSON object per log record on stderr: the host turns them into structured records.
      '--log-format',
      'json',
    ];
    if (o.hostAddress !== undefined) args.push('--host-address', o.hostAddress);
    if (o.tls !== undefined)
      args.push(
        '--tls-ca',
        o.tls.caFile,
        '--tls-cert',
        o.tls.certFile,
        '--tls-key',
        o.tls.keyFile,
        // The pool's HostService is dialled by IP; its certificate names it by this DNS name.
        '--tls-server-name',
        o.tls.serverName ?? 'trellis-node',
      );
    // Read before spawning: an unreadable file is the caller's error, not a worker start failure.
    const clientTls = o.tls === undefined ? undefined : readWorkerTls(o.tls);
    if (o.maxRssMb !== undefined && Number.isFinite(o.maxRssMb))
      args.push('--max-rss-mb', String(Math.max(1, Math.floor(o.maxRssMb))));
    // With a tracker (the registry), spawnProcess appends the run's marker. Without one the worker
    // still carries a marker of this host, so /proc scans and leak checks can always find it.
    if (getProcessTracker() === undefined) args.push(runMarker(`untracked-${process.pid}`));
    let handle: ProcessHandle;
    try {
      handle = await whileRegistryRefuses(o, t0, () =>
        spawnProcess(o.python.command, args, {
          role: 'tool-server',
          name: o.name,
          cwd: o.cwd,
          env: {
            ...o.env,
            ...(o.secret === undefined ? {} : { [SECRET_ENV]: o.secret }),
            ...(o.cgroup === undefined ? {} : { [CGROUP_ENV]: o.cgroup }),
            ...(o.tag === undefined ? {} : { [TAG_ENV]: o.tag }),
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      );
    } catch (e) {
      if (e instanceof SpawnFailedError) {
        throw new PythonNotFoundError(
          `cannot run the Python interpreter ${o.python.command} (${(e.cause as Error | undefined)?.message ?? e.message}); ${o.python.source === 'venv' ? 'run `pnpm install` to recreate the project virtualenv' : o.python.source === 'provisioned' ? 'delete that provisioned env (it is rebuilt on the next start)' : 'point TRELLIS_PYTHON (or the pool option python) at a working Python >= 3.10, or give the pool python: { requirements: [...] }'}`,
          { python: o.python.command, source: o.python.source },
        );
      }
      throw e;
    }
    const oomKillsAtStart = oomKillCount();
    o.onSpawned?.(handle.pid);
    const io = new ProcessIo(handle, o);
    let client: ToolServiceClient | undefined;
    try {
      const ready = await withTimeout(io.ready, o, handle.pid, 'print its readiness line');
      client = createToolClient(ready.address, o.maxMessageBytes, o.secret, clientTls);
      const c = client;
      const deadline = () => new Date(Date.now() + Math.max(1, o.startTimeoutMs - (o.clock.now() - t0)));
      await raceExit(
        io,
        new Promise<void>((res, rej) => c.waitForReady(deadline(), (err) => (err ? rej(err) : res()))),
      );
      const info = await raceExit(
        io,
        new Promise<DescribeResponse__Output>((res, rej) =>
          c.Describe(
            {},
            { deadline: deadline() },
            (err: ServiceError | null, r?: DescribeResponse__Output) =>
              err || !r ? rej(err ?? new Error('empty Describe response')) : res(r),
          ),
        ),
      );
      const lane =
        o.lane === false
          ? undefined
          : await raceExit(io, LaneClient.open(c, deadline(), o.shm, o.hostCalls, handle.pid));
      const wp = new WorkerProcess(io, ready.address, c, info, o.clock.now() - t0, o.socketPath, lane);
      if (o.cgroup !== undefined) io.inCgroup = cgroupMembers(o.cgroup).includes(handle.pid);
      if (o.maxRssMb !== undefined) wp.maxRssMb = o.maxRssMb;
      wp.oomKillsAtStart = oomKillsAtStart;
      return wp;
    } catch (e) {
      client?.close();
      handle.kill('SIGKILL');
      await handle.exited;
      removeSocket(o.socketPath);
      if (e instanceof WorkerStartError || e instanceof PythonNotFoundError) throw e;
      throw new WorkerStartError(
        'ERR_WORKER_START_FAILED',
        `Python worker ${handle.pid} started but could not be reached at its address: ${(e as Error).message}; stderr: ${io.stderrTail() || '(empty)'}`,
        { pid: handle.pid, stderrTail: io.stderrTail() },
      );
    }
  }

  /** How the process ended, once it has. */
  get exit(): WorkerExit | undefined {
    return this.#io.exit;
  }

  /** Resolves when the process has exited (and its registry record is gone). */
  get exited(): Promise<WorkerExit> {
    return this.#io.exitedPromise;
  }

  /** Calls `cb` synchronously from the process's exit event (at once if it already exited). */
  onExit(cb: ExitListener): void {
    this.#io.onExit(cb);
  }

  stderrTail(): string {
    return this.#io.stderrTail();
  }

  /** True once the host itself sent SIGKILL/SIGTERM: such a death is not a crash (no taint). */
  killedByHost = false;
  /** The kernel's OOM-kill count when it was spawned (robustness.ts tells an OOM SIGKILL by it). */
  oomKillsAtStart: number | undefined;

  /**
   * Why the host killed it, when it did so for a fault of the worker (missed heartbeats, memory
   * limit): the calls that were running on it fail with this as their cause, not as if the pool
   * had been shut down under them.
   */
  killCause: TrellisError | undefined;

  /** SIGKILL to the whole process group, recording why (see killCause). */
  killFor(cause: TrellisError): void {
    if (this.#io.exit === undefined && this.killCause === undefined) this.killCause = cause;
    this.kill();
  }

  /** SIGKILL to the whole process group (no drain). */
  kill(): void {
    if (this.#io.exit === undefined) this.killedByHost = true;
    this.handle.kill('SIGKILL');
  }

  /**
   * The Python process's own resident set size (bytes), from VmRSS in /proc/<pid>/status (in kB,
   * so no page-size guess); undefined off Linux or once the process is gone.
   */
  readRss(): number | undefined {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'latin1'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** RSS from /proc/<pid>/statm: one small read, for the 100 ms memory poll (memory-limit.ts). */
  sampleRss(): number | undefined {
    return readStatmRss(this.pid);
  }

  readCpuSeconds(): number | undefined {
    return readCpuSeconds(this.pid);
  }

  /**
   * SIGTERM to the group (the worker refuses new calls, gives in-flight ones its `--grace-ms`, then
   * cancels them and exits), SIGKILL after `killAfterMs`; resolves when the group is gone. stdin
   * stays open meanwhile: EOF would tell the worker its host is dead.
   */
  async stop(killAfterMs: number): Promise<WorkerExit> {
    if (this.#io.exit === undefined) {
      this.killedByHost = true;
      await this.handle.stop({ graceMs: killAfterMs });
    } else this.handle.kill('SIGKILL'); // leader gone: make sure nothing of its group is left
    return this.#io.exitedPromise;
  }

  /** Closes the channel and removes the socket file; call after the process has exited. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.lane?.close(this.pid); // and the segments the dead worker left
    this.client.close();
    removeSocket(this.#socketPath);
  }
}

/** The pipes and exit of one child: readiness parsing, stderr tail, exit listeners. */
class ProcessIo {
  readonly handle: ProcessHandle;
  readonly ready: Promise<ReadyLine>;
  readonly exitedPromise: Promise<WorkerExit>;
  /** Rejects with the precise start failure once the process exited (never resolves). */
  readonly startFailed: Promise<never>;
  exit: WorkerExit | undefined;
  #listeners: ExitListener[] = [];
  readonly #tail: StderrReader;

  constructor(handle: ProcessHandle, o: WorkerLaunchOptions) {
    this.handle = handle;
    const child = handle.child;
    // The worker may die at any moment: writes to its stdin would then raise EPIPE on the stream.
    child.stdin?.on('error', () => {});
    // Linear in the bytes read whatever the child writes (one 50 MiB line included): see
    // stderr-lines.ts for why a join-and-split per chunk is not.
    const onStderr = o.onStderr;
    const stderr = new StderrReader(
      o.stderrTailBytes,
      o.maxStderrLineBytes,
      onStderr === undefined ? undefined : (l) => onStderr(l, handle.pid),
    );
    this.#tail = stderr;
    child.stderr?.on('data', (d: Buffer) => stderr.push(d));
    child.stderr?.once('end', () => stderr.end());
    let settleReady: { res: (r: ReadyLine) => void; rej: (e: unknown) => void } | undefined;
    this.ready = new Promise<ReadyLine>((res, rej) => {
      settleReady = { res, rej };
    });
    // Rejections are consumed by launch(); this keeps an early failure from being "unhandled".
    this.ready.catch(() => {});
    const reader = new ReadyLineReader(o.maxReadyLineBytes);
    const onData = (d: Buffer): void => {
      const r = reader.push(d);
      if (r === undefined) return;
      child.stdout?.off('data', onData);
      // After the readiness line stdout stays open but silent; keep it flowing so it never blocks.
      child.stdout?.resume();
      if (r.ok) settleReady?.res(r.ready);
      else {
        handle.kill('SIGKILL');
        settleReady?.rej(
          new WorkerStartError(
            'ERR_WORKER_START_FAILED',
            `Python worker ${handle.pid} was refused: ${r.problem}. Only the worker may write to its stdout before readiness: remove the print/echo (a wrapper script, sitecustomize or startup hook) that writes there`,
            {
              pid: handle.pid,
              stdout: reader.pending.slice(0, 500),
            },
          ),
        );
      }
    };
    child.stdout?.on('data', onData);

    let resolveExited: (e: WorkerExit) => void = () => {};
    this.exitedPromise = new Promise((r) => {
      resolveExited = r;
    });
    let rejectStart: (e: unknown) => void = () => {};
    this.startFailed = new Promise<never>((_, rej) => {
      rejectStart = rej;
    });
    this.startFailed.catch(() => {});
    let closed = false;
    child.once('close', () => {
      closed = true;
    });
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (this.exit !== undefined) return;
      this.exit = { pid: handle.pid, exitCode: code, signal, stderrTail: this.#tail.tail() || undefined };
      // Whatever else lived in the worker's group goes with it, and so do its descendants that left
      // the group (new session, double fork): see descendants.ts.
      handle.kill('SIGKILL');
      this.#reapDescendants(o);
      for (const l of this.#listeners.splice(0)) l(this.exit);
      // A start failure quotes stderr, which may still be in the pipe when 'exit' arrives: wait for
      // 'close' (both pipes drained), bounded in case a grandchild holds stderr open.
      const exit = this.exit;
      const fail = (): void => {
        const err = startFailure(handle.pid, exit, o.python, reader.pending, () => this.stderrTail());
        settleReady?.rej(err);
        rejectStart(err);
      };
      if (closed) fail();
      else {
        const t = setTimeout(fail, STDERR_DRAIN_MS);
        child.once('close', () => {
          clearTimeout(t);
          fail();
        });
      }
      void handle.exited.then(() => resolveExited(exit));
    };
    child.once('exit', onExit);
    // spawnProcess awaited its tracker after spawning: if the child already exited, replay it.
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
  }

  onExit(cb: ExitListener): void {
    if (this.exit !== undefined) cb(this.exit);
    else this.#listeners.push(cb);
  }

  /** Set once the worker is ready: it did join its cgroup (else the tag scan is the fallback). */
  inCgroup = false;

  #reapDescendants(o: WorkerLaunchOptions): void {
    if (o.cgroup !== undefined) {
      const path = o.cgroup;
      void this.handle.exited.then(() => killAndRemoveCgroup(path));
      killCgroup(path);
      if (this.inCgroup) return;
    }
    if (o.tag !== undefined) killTagged(o.tag);
  }

  stderrTail(): string {
    return this.#tail.tail();
  }
}

/** After the exit event, how long to wait for stderr to drain before quoting it. */
const STDERR_DRAIN_MS = 300;

/** What the worker's start-up exit codes mean, and what fixes each (see trellis_worker/cli.py). */
const EXIT_MEANINGS: Record<number, string> = {
  0: 'it ended normally although nobody stopped it: something in its start-up (a tools module, sitecustomize, a wrapper) called sys.exit(0) or os._exit(0); check the top level of the tools modules for script code that should be under `if __name__ == "__main__":`',
  1: 'its host looked gone at start, or it failed unexpectedly; read its stderr below',
  2: 'its command line was refused (a bad option value); check the pool options',
  3: 'its tools module could not be imported or has no @tool functions; fix the error below in the module, or the tools option',
  4: 'its listen address was refused or could not be bound; check TMPDIR (socket directory) or use transport "tcp" (an address off this machine needs TLS files)',
  6: 'its TLS files (--tls-ca, --tls-cert, --tls-key) are unreadable, not PEM, or the key does not belong to the certificate; issue them again (trellis certs issue <node>)',
};

function startFailure(
  pid: number,
  exit: WorkerExit,
  py: ResolvedPython,
  stdout: string,
  tail: () => string,
): WorkerStartError {
  // Read the tail lazily: stderr may still be draining when the exit event arrives.
  const stderrTail = tail();
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const missing = /No module named '?(trellis_worker|grpc|google\.protobuf|google)'?/.exec(stderrTail);
  if (missing) {
    return new WorkerStartError(
      'ERR_PYTHON_SDK_MISSING',
      `Python ${py.command} cannot import ${missing[1]} (worker ${pid} ${how}); ${sdkInstallHint(py)}`,
      {
        pid,
        exitCode: exit.exitCode,
        signal: exit.signal,
        python: py.command,
        module: missing[1],
        stderrTail,
      },
    );
  }
  const meaning = exit.exitCode !== null ? EXIT_MEANINGS[exit.exitCode] : undefined;
  return new WorkerStartError(
    'ERR_WORKER_START_FAILED',
    `Python worker ${pid} ${how} before it was ready${meaning ? `: ${meaning}` : ''}. Its stderr ends with:\n${lastLines(stderrTail, 12) || '(nothing)'}`,
    {
      pid,
      exitCode: exit.exitCode,
      signal: exit.signal,
      stderrTail,
      stdout: stdout.slice(0, 500) || undefined,
    },
  );
}

function lastLines(s: string, n: number): string {
  return s.trimEnd().split('\n').slice(-n).join('\n');
}

/** Races a start step against the start time-out (the worker is killed by the caller on failure). */
/**
 * Runs `spawn` again while the registry refuses to record the process (ERR_REGISTRY_UNAVAILABLE), for
 * up to o.registryWaitMs (and never past startTimeoutMs), backing off from 50 ms to 1 s.
 *
 * Why: a worker that dies while the home's disk is full is restarted at once, and every start was
 * refused at once: a pool's restart intensity (10 in 10 s) went in about 20 ms, then its parent's,
 * and the whole host exited (chaos seeds 416113825, 1654141691). A full disk is usually cured by
 * time (a log rotated, a file removed); until then the slot stays empty: each start waits a
 * while, then fails, and the supervisor retries it, slowly enough that its restart intensity holds
 * and, between two tries, it hears a stop. Only the registry's refusal waits: any other spawn
 * failure fails the start at once.
 */
async function whileRegistryRefuses(
  o: WorkerLaunchOptions,
  t0: number,
  spawn: () => Promise<ProcessHandle>,
): Promise<ProcessHandle> {
  const waitMs = Math.min(o.registryWaitMs ?? 0, o.startTimeoutMs);
  let delay = 50;
  let told = false;
  for (;;) {
    try {
      return await spawn();
    } catch (e) {
      const left = waitMs - (o.clock.now() - t0);
      if ((e as { code?: unknown }).code !== 'ERR_REGISTRY_UNAVAILABLE' || left <= 0) throw e;
      if (!told) {
        told = true;
        getLogger().warn(
          { worker: o.name, code: 'ERR_REGISTRY_UNAVAILABLE', waitMs },
          `worker ${o.name} waits to start: ${(e as Error).message}`,
        );
      }
      const ms = Math.min(delay, left);
      await new Promise<void>((r) => o.clock.setTimeout(r, ms));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

async function withTimeout<T>(p: Promise<T>, o: WorkerLaunchOptions, pid: number, step: string): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = o.clock.setTimeout(
      () =>
        rej(
          new WorkerStartError(
            'ERR_WORKER_START_FAILED',
            `Python worker ${pid} did not ${step} within startTimeoutMs (${o.startTimeoutMs} ms); a slow tools import can need a larger startTimeoutMs`,
            { pid, startTimeoutMs: o.startTimeoutMs },
          ),
        ),
      o.startTimeoutMs,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    if (timer !== undefined) o.clock.clearTimeout(timer);
  }
}

/** A start step that also fails as soon as the process exits (with the precise start failure). */
function raceExit<T>(io: ProcessIo, p: Promise<T>): Promise<T> {
  return Promise.race([p, io.startFailed]);
}

function readWorkerTls(t: WorkerTls): ToolClientTls {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new WorkerStartError(
        'ERR_WORKER_START_FAILED',
        `cannot read the worker's TLS ${what} ${file} (${(e as Error).message}); point the TLS options at readable PEM files (a cluster's certificates: \`trellis certs issue <node>\`)`,
        { file, what },
      );
    }
  };
  return {
    ca: read('CA certificate', t.caFile),
    cert: read('certificate', t.certFile),
    key: read('key', t.keyFile),
    serverName: t.serverName,
  };
}

/**
 * Removes a dead worker's sockets: its gRPC socket and, beside it, its call lane's `<path>.lane`
 * (lane.py). A worker killed with SIGKILL never runs its own clean-up, so this is the only place the
 * lane socket of a crashed worker goes away while the pool runs on (gRPC core unlinks only its own).
 */
function removeSocket(path: string | undefined): void {
  if (path === undefined) return;
  rmSync(path, { force: true });
  rmSync(`${path}.lane`, { force: true });
}
