/**
 * The host's side of a worker's call lane (protos/trellis/bridge/v1/lane.proto): one Unix-socket
 * connection per worker that carries all its calls at once, opened after `Describe` with the
 * `OpenLane` RPC (which hands out the socket path and a one-time token).
 *
 * It offers the two methods of the gRPC client the call paths use, with the same shapes (a
 * callback `Execute` returning a cancellable handle; an `ExecuteStream` emitting `data`, `end`,
 * `error` with pause/resume/cancel), and reports failures as grpc `ServiceError`s with the same
 * status codes and `trellis-error-bin` trailer, so the call drivers (call/unary.ts, call/stream.ts)
 * map them with the same code (call/errors.ts) whichever way a call went.
 *
 * Why hand-written: no library frames calls over a Unix socket for both Node and asyncio; gRPC's
 * own bidi stream was measured and is ~4x slower per call (docs/grpc-bridge.md, "The call lane").
 *
 * Races, and how each ends:
 *   - Frames written in one tick go out in one write (`#flush` on a microtask), which is what
 *     turns 64 concurrent calls into one system call.
 *   - The socket closes (the worker died, or the lane broke): every open call fails at once with
 *     UNAVAILABLE and no ErrorDetail, which the call paths treat as a transport failure: they wait
 *     for the process's exit to report its real reason (ERR_WORKER_EXITED) and retry only
 *     idempotent calls. The worker cancels the lane's calls when its side closes, so a call is
 *     never left running there while being retried elsewhere. New calls then go over gRPC unary.
 *   - A result and a cancel/deadline cross: whichever reaches `#settle` first wins; the other is
 *     ignored (the id is gone from `#calls`).
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Metadata, type MetadataValue, type ServiceError, type StatusObject, status } from '@grpc/grpc-js';
import { getLogger } from '@trellis/core';
import type { CallHostToolRequest__Output } from '../generated/trellis/bridge/v1/CallHostToolRequest.js';
import type { CallHostToolResponse } from '../generated/trellis/bridge/v1/CallHostToolResponse.js';
import type { ExecuteRequest } from '../generated/trellis/bridge/v1/ExecuteRequest.js';
import type { ExecuteResponse__Output } from '../generated/trellis/bridge/v1/ExecuteResponse.js';
import type { ExecuteStreamResponse__Output } from '../generated/trellis/bridge/v1/ExecuteStreamResponse.js';
import type { HeartbeatResponse__Output } from '../generated/trellis/bridge/v1/HeartbeatResponse.js';
import type { OpenLaneResponse__Output } from '../generated/trellis/bridge/v1/OpenLaneResponse.js';
import type { Payload__Output } from '../generated/trellis/bridge/v1/Payload.js';
import type { ToolServiceClient } from '../generated/trellis/bridge/v1/ToolService.js';
import { hostCallCancelled } from '../host-service.js';
import { ERROR_METADATA_KEY, encodeErrorDetail } from '../protos.js';
import {
  resultMappingAvailable,
  ShmPayloadProblem,
  takeMemfd,
  workerFdsOpenable,
} from '../shm/mapped-results.js';
import { removeSegment, removeSegments, takeSegment, writeSegment } from '../shm/segments.js';
import {
  callFrame,
  cancelFrame,
  creditFrame,
  decodeWorkerFrame,
  FrameKind,
  FrameReader,
  heartbeatFrame,
  helloFrame,
  hostErrorFrame,
  hostResultFrame,
  releaseFrame,
  type WorkerFrame,
} from './frames.js';

export type UnaryCallback = (err: ServiceError | null, res?: ExecuteResponse__Output) => void;

export interface CallHandle {
  cancel(): void;
}

interface OpenCall {
  onFrame(f: WorkerFrame): void;
  /** The lane closed under the call. */
  onClosed(err: ServiceError): void;
  /** Date.now() at which the host gives up on it (Infinity: never). */
  readonly deadlineAt: number;
  /** Its deadline passed: settle it as DEADLINE_EXCEEDED (the worker was sent a cancel). */
  expire(): void;
}

/**
 * The details of the UNAVAILABLE every open call gets when the lane's socket closes: the call had
 * reached its worker, so its tool may have run (call/errors.ts `mayHaveRun`).
 */
export const LANE_CLOSED_DETAILS = 'the call lane to the worker closed';

export function laneError(code: number, details: string, detail?: Buffer): ServiceError {
  const metadata = new Metadata();
  if (detail !== undefined) metadata.set(ERROR_METADATA_KEY, detail);
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

/** How much later than the worker's budget a host tool's own timer fires (see #hostCall). */
const HOST_TIMER_SLACK_MS = 25;
/** Date.now() of a grpc-style deadline option (Infinity: none). */
function deadlineOf(options: { deadline?: Date | number }): number {
  const d = options.deadline;
  if (d === undefined) return Number.POSITIVE_INFINITY;
  return typeof d === 'number' ? d : d.getTime();
}

/** The trace context among a traced call's gRPC metadata (what the lane carries instead). */
function traceHeaders(metadata: Metadata | undefined): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  let out: Record<string, string> | undefined;
  for (const key of ['traceparent', 'tracestate']) {
    const v: MetadataValue | undefined = metadata.get(key)[0];
    if (v === undefined) continue;
    out ??= {};
    out[key] = typeof v === 'string' ? v : v.toString('latin1');
  }
  return out;
}

/** Runs a host tool call for a worker (HostService.run): the lane answers its HOST_CALL frames. */
export type HostCallRunner = (
  req: CallHostToolRequest__Output,
  ac: AbortController,
  reply: (err: Partial<StatusObject> | null, res?: CallHostToolResponse) => void,
) => void;

/** Shared-memory payloads on a lane (OpenLaneRequest). */
export interface LaneShm {
  /** `trellis-shm.<run id>.` (shm/segments.ts). */
  readonly prefix: string;
  /** Payloads of at least this many bytes go through shared memory. */
  readonly thresholdBytes: number;
  readonly maxBytes: number;
  /** Results are mapped while this process's mapped results total at most this (0: never). */
  readonly maxMappedBytes: number;
}

export class LaneClient {
  readonly path: string;
  /** Set when the worker accepted shared-memory payloads. */
  readonly shm: LaneShm | undefined;
  /** The worker answers heartbeats on the lane (OpenLaneResponse.heartbeats). */
  readonly heartbeats: boolean;
  /** The worker's pid when its results come as memfds this host maps (OpenLaneRequest). */
  readonly #memfdPid: number | undefined;
  readonly #socket: Socket;
  readonly #calls = new Map<number, OpenCall>();
  /** Host tool calls the worker made on this lane, by the worker's id: their AbortControllers. */
  readonly #hostCalls = new Map<number, AbortController>();
  readonly #hostRunner: HostCallRunner | undefined;
  #nextId = 1;
  #out: Buffer[] = [];
  #flushQueued = false;
  #closed = false;
  /**
   * One timer for the whole lane, armed at the earliest deadline of its open calls, instead of a
   * timer per call: calls mostly arrive in deadline order (one default timeoutMs), so it is
   * re-armed rarely, and a call costs no timer at all. When it fires it expires every call whose
   * deadline passed and re-arms for the next.
   */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  /** Calls sent over the lane (stats). */
  calls = 0;
  /** Heartbeats the worker answered over the lane (stats). */
  heartbeatsAnswered = 0;

  private constructor(
    path: string,
    socket: Socket,
    shm: LaneShm | undefined,
    hostRunner: HostCallRunner | undefined,
    heartbeats: boolean,
    memfdPid: number | undefined,
  ) {
    this.path = path;
    this.#memfdPid = memfdPid;
    this.#socket = socket;
    this.shm = shm;
    this.heartbeats = heartbeats;
    this.#hostRunner = hostRunner;
    const reader = new FrameReader((kind, id, body) => {
      if (kind === FrameKind.HOST_CALL || kind === FrameKind.HOST_CANCEL) {
        const f = decodeWorkerFrame(kind, id, body);
        if (f?.kind === FrameKind.HOST_CALL) this.#hostCall(f.id, f.request, f.timeoutMs);
        else this.#hostCalls.get(id)?.abort(hostCallCancelled());
        return;
      }
      const call = this.#calls.get(id);
      // A late result of a call settled already (cancelled, deadline) is dropped, but a segment
      // it came in must still be removed.
      if (call === undefined && kind !== FrameKind.RESULT && kind !== FrameKind.ITEM) return;
      let f = decodeWorkerFrame(kind, id, body);
      if (f === undefined) return;
      try {
        if (f.kind === FrameKind.RESULT && f.result?.shm) f = { ...f, result: this.#take(f.result) };
        else if (f.kind === FrameKind.ITEM && f.item?.shm) f = { ...f, item: this.#take(f.item) };
      } catch (e) {
        // A segment that is not what its frame says fails the call with ERR_SHM_PAYLOAD_INVALID
        // (an ErrorDetail the call paths map); one that is gone (its worker died) as a transport
        // error, which waits for the worker's exit to report it.
        const message = (e as Error).message;
        const detail =
          e instanceof ShmPayloadProblem
            ? encodeErrorDetail({ errorType: 'SharedMemoryError', message, traceback: '', tool: '' })
            : undefined;
        f = { kind: FrameKind.ERROR, id, code: status.DATA_LOSS, detail };
        getLogger().warn({ path: this.path, err: message }, 'bad shared-memory payload');
      }
      call?.onFrame(f);
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => {}); // 'close' follows and does the work
    socket.on('close', () => this.#onClose());
  }

  /**
   * Asks the worker for its lane and connects; undefined when it offers none (TCP transport, a
   * path too long, an older worker) or cannot be reached, and the pool then calls over gRPC.
   */
  static async open(
    client: ToolServiceClient,
    deadline: Date,
    shm?: LaneShm,
    hostRunner?: HostCallRunner,
    workerPid?: number,
  ): Promise<LaneClient | undefined> {
    const memfd =
      shm !== undefined &&
      shm.maxMappedBytes > 0 &&
      workerPid !== undefined &&
      resultMappingAvailable() &&
      workerFdsOpenable(workerPid);
    const request = {
      ...(shm && { shmPrefix: shm.prefix, shmThresholdBytes: shm.thresholdBytes, maxShmBytes: shm.maxBytes }),
      hostCalls: hostRunner !== undefined,
      memfdResults: memfd,
    };
    const r = await new Promise<OpenLaneResponse__Output | undefined>((res) =>
      client.OpenLane(request, { deadline }, (err: ServiceError | null, out?: OpenLaneResponse__Output) =>
        res(err ? undefined : out),
      ),
    );
    if (r === undefined || r.path === '') return undefined;
    const socket = connect(r.path);
    const ok = await new Promise<boolean>((res) => {
      socket.once('connect', () => res(true));
      socket.once('error', () => res(false));
    });
    if (!ok) {
      socket.destroy();
      return undefined;
    }
    socket.setNoDelay?.(true);
    const lane = new LaneClient(
      r.path,
      socket,
      shm,
      hostRunner,
      r.heartbeats === true,
      memfd ? workerPid : undefined,
    );
    lane.#send(helloFrame(r.token));
    return lane;
  }

  /** False once the lane closed: calls then go over gRPC. */
  get usable(): boolean {
    return !this.#closed;
  }

  /** Open calls on the lane. */
  get open(): number {
    return this.#calls.size;
  }

  /** Closes the lane; with the worker's pid (it has exited), removes the segments it left. */
  close(workerPid?: number): void {
    this.#socket.destroy();
    if (workerPid !== undefined && this.shm !== undefined) removeSegments(`${this.shm.prefix}w${workerPid}.`);
  }

  /**
   * A payload that came in a worker's segment: a memfd mapped (or read) and released, or a file in
   * /dev/shm read and removed.
   */
  #take(p: Payload__Output): Payload__Output {
    const ref = p.shm!;
    const size = Number(ref.size);
    const shm = this.shm;
    if (ref.fd !== 0) {
      const pid = this.#memfdPid;
      try {
        if (shm === undefined || pid === undefined)
          throw new ShmPayloadProblem(
            'the worker sent a memfd result on a lane opened without memfd results',
          );
        if (size > shm.maxBytes)
          throw new ShmPayloadProblem(
            `the worker sent ${size} bytes in shared memory, over maxShmBytes (${shm.maxBytes})`,
          );
        return {
          data: takeMemfd(pid, ref.fd, size, shm.maxMappedBytes),
          contentType: p.contentType,
          shm: null,
        };
      } finally {
        // Opened (the host holds its own descriptor) or refused: the worker's descriptor can go.
        this.#send(releaseFrame(ref.fd));
      }
    }
    if (shm === undefined || !ref.name.startsWith(`${shm.prefix}w`) || ref.name.includes('/'))
      throw new ShmPayloadProblem(`the worker sent a shared-memory segment that is not its own: ${ref.name}`);
    if (size > shm.maxBytes) {
      removeSegment(ref.name);
      throw new ShmPayloadProblem(
        `the worker sent ${size} bytes in shared memory, over maxShmBytes (${shm.maxBytes})`,
      );
    }
    return { data: takeSegment(ref.name, size), contentType: p.contentType, shm: null };
  }

  /** The request as sent: large arguments moved into a segment of this host (removed when done). */
  #outgoing(request: ExecuteRequest): { request: ExecuteRequest; segment: string | undefined } {
    const shm = this.shm;
    const data = request.payload?.data;
    if (shm === undefined || !(data instanceof Uint8Array) || data.length < shm.thresholdBytes)
      return { request, segment: undefined };
    const name = writeSegment(shm.prefix, data);
    return {
      request: {
        ...request,
        payload: { contentType: request.payload!.contentType, shm: { name, size: data.length } },
      },
      segment: name,
    };
  }

  #send(b: Buffer): void {
    this.#out.push(b);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    const out = this.#out;
    if (out.length === 0 || this.#closed) {
      out.length = 0;
      return;
    }
    this.#out = [];
    if (out.length === 1) {
      this.#socket.write(out[0]!);
      return;
    }
    // One writev for the batch, without joining the buffers first.
    this.#socket.cork();
    for (const b of out) this.#socket.write(b);
    this.#socket.uncork();
  };

  #watchDeadline(at: number): void {
    if (at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#expire, Math.max(1, at - Date.now()));
    this.#timer.unref?.();
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const call of [...this.#calls.values()]) {
      if (call.deadlineAt <= now) call.expire();
      else if (call.deadlineAt < next) next = call.deadlineAt;
    }
    if (next !== Number.POSITIVE_INFINITY && !this.#closed) this.#watchDeadline(next);
  };

  /**
   * A host tool call from the worker: run it as the HostService RPC would (same checks, same
   * errors); its deadline is the caller's remaining budget, and a cancel frame or the lane closing
   * fires the host tool's AbortSignal.
   */
  #hostCall(id: number, req: CallHostToolRequest__Output, timeoutMs: number): void {
    const run = this.#hostRunner;
    if (run === undefined) {
      this.#send(hostErrorFrame(id, status.UNIMPLEMENTED, undefined));
      return;
    }
    const ac = new AbortController();
    this.#hostCalls.set(id, ac);
    // The host tool's own timer is the worker's budget plus a little slack. Why: that budget is the
    // outer call's, so both timers fall due in the same millisecond; had the host tool's fired first,
    // its abort would reach the tool as an error and come back as ERR_TOOL_FAILED before the outer
    // call's deadline settled it as ERR_DEADLINE_EXCEEDED (seen under load). With the slack the outer
    // deadline always wins; it cancels the tool, whose HOST_CANCEL fires this signal at once.
    const timer =
      timeoutMs > 0
        ? setTimeout(() => ac.abort(hostCallCancelled()), timeoutMs + HOST_TIMER_SLACK_MS)
        : undefined;
    run(req, ac, (err, res) => {
      if (timer !== undefined) clearTimeout(timer);
      this.#hostCalls.delete(id);
      if (err === null) {
        this.#send(hostResultFrame(id, res ?? {}));
        return;
      }
      const d = err.metadata?.get(ERROR_METADATA_KEY)[0];
      this.#send(hostErrorFrame(id, err.code ?? status.INTERNAL, d instanceof Buffer ? d : undefined));
    });
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The worker is gone or unreachable: its host calls are over (their signals fire).
    for (const ac of this.#hostCalls.values()) ac.abort(hostCallCancelled());
    this.#hostCalls.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#calls.size > 0)
      getLogger().debug({ path: this.path, open: this.#calls.size }, 'call lane closed with calls open');
    const err = laneError(status.UNAVAILABLE, LANE_CLOSED_DETAILS);
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const c of calls) c.onClosed(err);
  }

  #id(): number {
    // Ids wrap at 2^32; an id is reused only long after its call ended.
    const id = this.#nextId;
    this.#nextId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  /** A unary call, like `ToolServiceClient.Execute(request, { deadline }, callback)`. */
  Execute(
    request: ExecuteRequest,
    options: { deadline?: Date | number },
    cb: UnaryCallback,
    metadata?: Metadata,
  ): CallHandle {
    const id = this.#id();
    const deadlineAt = deadlineOf(options);
    const out = this.#outgoing(request);
    const settle = (err: ServiceError | null, res?: ExecuteResponse__Output): void => {
      if (!this.#calls.delete(id)) return;
      // The worker is done with the arguments' segment (or will never map it: cancelled).
      if (out.segment !== undefined) removeSegment(out.segment);
      cb(err, res);
    };
    this.#calls.set(id, {
      deadlineAt,
      onFrame: (f) => {
        if (f.kind === FrameKind.RESULT)
          settle(null, { result: f.result, durationUs: 0, telemetry: f.telemetry });
        else if (f.kind === FrameKind.ERROR) settle(laneError(f.code, 'the tool call failed', f.detail));
      },
      onClosed: (err) => {
        if (out.segment !== undefined) removeSegment(out.segment);
        cb(err);
      },
      // The worker enforces the deadline too; the host's own check settles the call even when the
      // worker cannot answer (stopped, hung).
      expire: () => {
        this.#send(cancelFrame(id));
        settle(laneError(status.DEADLINE_EXCEEDED, 'Deadline exceeded'));
      },
    });
    this.#sendCall(id, out.request, deadlineAt, false, 0, metadata);
    return {
      cancel: () => {
        if (!this.#calls.has(id)) return;
        this.#send(cancelFrame(id));
        settle(laneError(status.CANCELLED, 'Cancelled on client'));
      },
    };
  }

  /**
   * A heartbeat, like `ToolServiceClient.Heartbeat({ seq }, { deadline }, callback)`: answered by the
   * worker's event loop as the RPC is (a loop that is blocked answers neither), with the same
   * errors: DEADLINE_EXCEEDED when no answer came in time, UNAVAILABLE when the lane closed.
   */
  Heartbeat(
    request: { seq: number },
    options: { deadline?: Date | number },
    cb: (err: ServiceError | null, res?: HeartbeatResponse__Output) => void,
  ): void {
    const id = this.#id();
    const deadlineAt = deadlineOf(options);
    const settle = (err: ServiceError | null, res?: HeartbeatResponse__Output): void => {
      if (this.#calls.delete(id)) cb(err, res);
    };
    this.#calls.set(id, {
      deadlineAt,
      onFrame: (f) => {
        if (f.kind !== FrameKind.HEARTBEAT_ACK) return;
        this.heartbeatsAnswered++;
        settle(null, f.response);
      },
      onClosed: (err) => cb(err),
      expire: () => settle(laneError(status.DEADLINE_EXCEEDED, 'Deadline exceeded')),
    });
    if (deadlineAt !== Number.POSITIVE_INFINITY) this.#watchDeadline(deadlineAt);
    this.#send(heartbeatFrame(id, request.seq));
  }

  /** A server stream, like `ToolServiceClient.ExecuteStream(request, { deadline })`. */
  ExecuteStream(
    request: ExecuteRequest,
    options: { deadline?: Date | number },
    credit = 16,
    metadata?: Metadata,
  ): LaneStream {
    const id = this.#id();
    const deadlineAt = deadlineOf(options);
    const out = this.#outgoing(request);
    const stream = new LaneStream(
      id,
      credit,
      deadlineAt,
      (b) => this.#send(b),
      () => {
        this.#calls.delete(id);
        if (out.segment !== undefined) removeSegment(out.segment);
      },
    );
    this.#calls.set(id, stream);
    this.#sendCall(id, out.request, deadlineAt, true, credit, metadata);
    return stream;
  }

  /**
   * Sends a call's CALL frame, once its entry is in #calls: the time it has left (0: none), its
   * deadline watched on this side as well, and the caller's trace headers.
   */
  #sendCall(
    id: number,
    request: ExecuteRequest,
    deadlineAt: number,
    stream: boolean,
    credit: number,
    metadata: Metadata | undefined,
  ): void {
    const timeoutMs = deadlineAt === Number.POSITIVE_INFINITY ? 0 : Math.max(1, deadlineAt - Date.now());
    if (timeoutMs > 0) this.#watchDeadline(deadlineAt);
    this.calls++;
    const headers = traceHeaders(metadata);
    this.#send(callFrame(id, { request, timeoutMs, stream, credit, ...(headers && { headers }) }));
  }
}

/**
 * One streaming call on the lane. Backpressure is credit: the worker may send `credit` items
 * ahead; while not paused the stream grants more as items arrive (in batches of half the window,
 * so a fast stream costs one CREDIT frame per `credit / 2` items), and `pause()` stops granting,
 * which blocks the Python generator at its next yield once the window is used up.
 */
export class LaneStream extends EventEmitter {
  #outstanding: number;
  #paused = false;
  #done = false;
  constructor(
    private readonly id: number,
    private readonly window: number,
    readonly deadlineAt: number,
    private readonly send: (b: Buffer) => void,
    private readonly forget: () => void,
  ) {
    super();
    this.#outstanding = window;
  }

  expire(): void {
    if (this.#done) return;
    this.send(cancelFrame(this.id));
    this.#finish();
    this.#fail(laneError(status.DEADLINE_EXCEEDED, 'Deadline exceeded'));
  }

  onFrame(f: WorkerFrame): void {
    if (this.#done) return;
    switch (f.kind) {
      case FrameKind.ITEM: {
        this.#outstanding--;
        const m: ExecuteStreamResponse__Output = { item: f.item, index: f.index, telemetry: f.telemetry };
        this.emit('data', m);
        this.#grant();
        return;
      }
      case FrameKind.END:
        this.#finish();
        this.emit('end');
        return;
      case FrameKind.ERROR:
        this.#finish();
        this.#fail(laneError(f.code, 'the tool call failed', f.detail));
        return;
      case FrameKind.RESULT:
        return; // not sent for streams
    }
  }

  onClosed(err: ServiceError): void {
    if (this.#done) return;
    this.#finish();
    this.#fail(err);
  }

  /** As grpc-js does: 'error', then 'end' (tool-stream.ts settles a mapped error at 'end'). */
  #fail(err: ServiceError): void {
    this.emit('error', err);
    this.emit('end');
  }

  #finish(): void {
    this.#done = true;
    this.forget();
  }

  #grant(): void {
    if (this.#paused || this.#done || this.#outstanding > this.window >> 1) return;
    const more = this.window - this.#outstanding;
    this.#outstanding = this.window;
    this.send(creditFrame(this.id, more));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#grant();
  }

  cancel(): void {
    if (this.#done) return;
    this.send(cancelFrame(this.id));
    this.#finish();
    this.#fail(laneError(status.CANCELLED, 'Cancelled on client'));
  }
}
