/**
 * The host's side of `trellis.bridge.v1.HostService`: TypeScript functions exposed to Python tools
 * (`pool.exposeHostTool`) and the workers' forwarded log records.
 *
 * One gRPC server per pool, on a Unix socket in the pool's private socket directory (loopback TCP
 * when the path would be too long); the workers get its address with `--host-address`.
 *
 * A host tool gets an AbortSignal that fires when the Python caller cancels the RPC (its own call
 * was cancelled, or timed out) or when the RPC's deadline (the Python call's remaining budget)
 * passes. A failure goes back as a gRPC status plus an ErrorDetail with the JavaScript error's
 * name, message and stack, which Python raises as HostToolError.
 */
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/host_service.js';
import type { CallHostToolRequest__Output } from './generated/trellis/bridge/v1/CallHostToolRequest.js';
import type { CallHostToolResponse } from './generated/trellis/bridge/v1/CallHostToolResponse.js';
import type { HostServiceHandlers } from './generated/trellis/bridge/v1/HostService.js';
import type { LogRequest__Output } from './generated/trellis/bridge/v1/LogRequest.js';
import type { LogResponse } from './generated/trellis/bridge/v1/LogResponse.js';
import { ArgsEncodingProblem, decodePayload, encodeArgs, type ToolArgs } from './payload.js';
import { encodeErrorDetail, findProtoRoot, LOADER_OPTIONS, SECRET_METADATA_KEY } from './protos.js';

/** What a host tool receives besides its arguments. */
export interface HostToolContext {
  /** Fires when the Python caller cancels, or the call's deadline passes. */
  readonly signal: AbortSignal;
  readonly sessionId: string;
  /** call_id of the Python tool call that made this request. */
  readonly callId: string;
  readonly workerPid: number;
}

export type HostToolFn = (args: unknown, ctx: HostToolContext) => unknown | Promise<unknown>;

export interface HostTool {
  readonly name: string;
  /** JSON Schema of the argument object (checked shallowly: type object, required, property types). */
  readonly schema: Record<string, unknown>;
  readonly fn: HostToolFn;
}

let hostDefinition: ProtoGrpcType['trellis']['bridge']['v1']['HostService'] | undefined;

/** The HostService definition (loaded once from protos/). */
export function hostServiceDefinition(): ProtoGrpcType['trellis']['bridge']['v1']['HostService'] {
  if (hostDefinition) return hostDefinition;
  const def = protoLoader.loadSync('trellis/bridge/v1/host_service.proto', {
    ...LOADER_OPTIONS,
    includeDirs: [findProtoRoot()],
  });
  hostDefinition = (grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType).trellis.bridge.v1
    .HostService;
  return hostDefinition;
}

class HostToolFailure extends Error {
  constructor(
    readonly status: grpc.status,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

const JSON_TYPES: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number',
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
  null: (v) => v === null,
};

/** A shallow check of the arguments against the tool's schema; the problem, or undefined. */
export function checkArgs(schema: Record<string, unknown>, args: unknown): string | undefined {
  if (args instanceof Buffer) return undefined;
  if (!JSON_TYPES.object!(args)) return 'arguments must be a JSON object';
  const a = args as Record<string, unknown>;
  const props = (schema.properties ?? {}) as Record<string, { type?: string | string[] }>;
  for (const r of (schema.required ?? []) as string[])
    if (!(r in a)) return `missing required argument "${r}"`;
  for (const [k, v] of Object.entries(a)) {
    const p = props[k];
    if (p === undefined) {
      if (schema.additionalProperties === false) return `unknown argument "${k}"`;
      continue;
    }
    const types = p.type === undefined ? [] : Array.isArray(p.type) ? p.type : [p.type];
    if (types.length > 0 && !types.some((t) => JSON_TYPES[t]?.(v)))
      return `argument "${k}" must be ${types.join(' or ')}`;
  }
  return undefined;
}

/** The failure a host call's signal carries when its Python caller cancelled it or ran out of time. */
export function hostCallCancelled(): Error {
  return new HostToolFailure(
    grpc.status.CANCELLED,
    'Cancelled',
    'the Python caller cancelled the host call, or its deadline passed',
  );
}

/** A Python log record forwarded by a worker. */
export interface PythonLogRecord {
  readonly pid: number;
  /** Python level number (10 DEBUG ... 50 CRITICAL) and name. */
  readonly level: number;
  readonly levelName: string;
  readonly logger: string;
  readonly message: string;
  readonly timeUnixMs: number;
  readonly callId: string;
  readonly sessionId: string;
  readonly tool: string;
  readonly traceback: string;
}

export class HostService {
  readonly tools = new Map<string, HostTool>();
  #server: grpc.Server | undefined;
  #address: string | undefined;

  constructor(
    private readonly onLog: (r: PythonLogRecord) => void,
    private readonly maxMessageBytes: number,
    /**
     * The pool's per-run secret: a call without it gets UNAUTHENTICATED. Over loopback TCP any local
     * user could otherwise call the host tools (as this user).
     */
    private readonly secret?: string | undefined,
  ) {}

  /** False (and the call refused with UNAUTHENTICATED) when the caller lacks the pool's secret. */
  #authorized(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    cb: (e: Partial<grpc.StatusObject>) => void,
  ): boolean {
    if (this.secret === undefined) return true;
    const given = call.metadata.get(SECRET_METADATA_KEY)[0];
    const a = Buffer.from(typeof given === 'string' ? given : (given ?? Buffer.alloc(0)));
    const b = Buffer.from(this.secret);
    if (a.length === b.length && timingSafeEqual(a, b)) return true;
    cb({
      code: grpc.status.UNAUTHENTICATED,
      details: 'missing or wrong trellis-secret: this HostService serves only the workers of its pool',
    });
    return false;
  }

  get address(): string | undefined {
    return this.#address;
  }

  /** Starts serving at `listen` (`unix:/path` or `127.0.0.1:0`); resolves with the address to give workers. */
  async start(listen: string): Promise<string> {
    const port = await this.#bind(listen, grpc.ServerCredentials.createInsecure());
    this.#address = listen.startsWith('unix:') ? listen : `127.0.0.1:${port}`;
    return this.#address;
  }

  /**
   * Also serves on `bind` (`host:port`, port 0: any free one) with `credentials` (mTLS: workers on
   * other nodes present their node's certificate), for the workers of a pool with placement;
   * resolves with the address to give them: `advertise` (a name their certificate check accepts)
   * or the bind host, with the port bound. The per-run secret is still checked on every call.
   */
  async listenRemote(bind: string, credentials: grpc.ServerCredentials, advertise?: string): Promise<string> {
    const port = await this.#bind(bind, credentials);
    const host = advertise ?? bind.slice(0, bind.lastIndexOf(':'));
    this.#remoteAddress = `${host}:${port}`;
    return this.#remoteAddress;
  }

  /** The address remote workers dial (listenRemote), if serving them. */
  get remoteAddress(): string | undefined {
    return this.#remoteAddress;
  }

  #remoteAddress: string | undefined;

  /** One server for both listeners (grpc-js binds a port with its own credentials at any time). */
  #bind(listen: string, credentials: grpc.ServerCredentials): Promise<number> {
    let server = this.#server;
    if (server === undefined) {
      server = new grpc.Server({
        'grpc.max_receive_message_length': this.maxMessageBytes,
        'grpc.max_send_message_length': this.maxMessageBytes,
      });
      const handlers: HostServiceHandlers = {
        CallHostTool: (call, cb) => {
          if (this.#authorized(call, cb)) this.#call(call, cb);
        },
        Log: (call, cb) => {
          if (!this.#authorized(call, cb)) return;
          this.#log(call.request);
          cb(null, {} satisfies LogResponse);
        },
      };
      server.addService(hostServiceDefinition().service, handlers);
      this.#server = server;
    }
    const s = server;
    return new Promise<number>((res, rej) =>
      s.bindAsync(listen, credentials, (err, p) => (err ? rej(err) : res(p))),
    );
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    this.#address = undefined;
    this.#remoteAddress = undefined;
    if (s === undefined) return;
    // Workers are gone by now; forceShutdown cancels any host call still running (its signal fires).
    s.forceShutdown();
  }

  #log(req: LogRequest__Output): void {
    for (const r of req.records) {
      try {
        this.onLog({
          pid: req.workerPid,
          level: r.level,
          levelName: r.levelName,
          logger: r.logger,
          message: r.message,
          timeUnixMs: r.timeUnixMs,
          callId: r.callId,
          sessionId: r.sessionId,
          tool: r.tool,
          traceback: r.traceback,
        });
      } catch {
        // A faulty log sink must not fail the worker's log RPC.
      }
    }
  }

  #call(
    call: grpc.ServerUnaryCall<CallHostToolRequest__Output, CallHostToolResponse>,
    cb: grpc.sendUnaryData<CallHostToolResponse>,
  ): void {
    const ac = new AbortController();
    // grpc-js emits 'cancelled' both when the Python side cancels the RPC and when its deadline
    // (the Python call's remaining budget) passes: one listener covers both, no timer of our own.
    const onCancel = (): void => ac.abort(hostCallCancelled());
    call.on('cancelled', onCancel);
    this.run(call.request, ac, (err, res) => {
      call.off('cancelled', onCancel);
      cb(err, res);
    });
  }

  /**
   * Runs one host tool call, from the HostService RPC or from a worker's call lane
   * (lane/lane-client.ts): `ac` aborts it (the host tool's signal), `reply` gets the result or the
   * status (code, details and the ErrorDetail trailer) exactly once.
   */
  run(
    req: CallHostToolRequest__Output,
    ac: AbortController,
    reply: (err: Partial<grpc.StatusObject> | null, res?: CallHostToolResponse) => void,
  ): void {
    const cb = reply;
    let done = false;
    const finish = (err: unknown, result?: unknown): void => {
      if (done) return;
      done = true;
      if (err === undefined) {
        const p = encodeArgs(result === undefined || result === null ? undefined : (result as ToolArgs));
        if (p instanceof ArgsEncodingProblem) {
          // Not an object: encode any JSON value (a host tool may return a string, a list, ...).
          let text: string | undefined;
          try {
            text = JSON.stringify(result);
          } catch (e) {
            return void cb(this.#status(req.tool, e));
          }
          return void cb(null, {
            result: { data: Buffer.from(text ?? 'null'), contentType: 'application/json' },
          });
        }
        return void cb(null, { result: p });
      }
      cb(
        this.#status(
          req.tool,
          ac.signal.aborted && !(err instanceof HostToolFailure) ? ac.signal.reason : err,
        ),
      );
    };
    const tool = this.tools.get(req.tool);
    if (tool === undefined) {
      const names = [...this.tools.keys()].sort().join(', ') || '(none)';
      finish(
        new HostToolFailure(
          grpc.status.NOT_FOUND,
          'UnknownHostTool',
          `no host tool "${req.tool}"; the host exposes: ${names}`,
        ),
      );
      return;
    }
    let args: unknown;
    try {
      args = decodePayload(req.payload, false);
    } catch (e) {
      finish(
        new HostToolFailure(
          grpc.status.INVALID_ARGUMENT,
          'ValidationError',
          `arguments are not valid JSON: ${(e as Error).message}`,
        ),
      );
      return;
    }
    if (args === null) args = {};
    const problem = checkArgs(tool.schema, args);
    if (problem !== undefined) {
      finish(
        new HostToolFailure(
          grpc.status.INVALID_ARGUMENT,
          'ValidationError',
          `host tool "${req.tool}": ${problem}`,
        ),
      );
      return;
    }
    const ctx: HostToolContext = {
      signal: ac.signal,
      sessionId: req.sessionId,
      callId: req.callId,
      workerPid: req.workerPid,
    };
    try {
      Promise.resolve(tool.fn(args, ctx)).then(
        (r) => finish(undefined, r),
        (e) => finish(e ?? new Error('host tool rejected')),
      );
    } catch (e) {
      finish(e);
    }
  }

  #status(tool: string, e: unknown): Partial<grpc.StatusObject> {
    const err = e instanceof Error ? e : new Error(String(e));
    const code = e instanceof HostToolFailure ? e.status : grpc.status.INTERNAL;
    const errorType =
      e instanceof HostToolFailure ? e.errorType : err.name || err.constructor?.name || 'Error';
    const trellisCode = (err as { code?: unknown }).code;
    const message = typeof trellisCode === 'string' ? `${trellisCode}: ${err.message}` : err.message;
    const metadata = new grpc.Metadata();
    metadata.set(
      'trellis-error-bin',
      encodeErrorDetail({
        errorType,
        message: message.slice(0, 1000),
        traceback: e instanceof HostToolFailure ? '' : (err.stack ?? '').slice(-4000),
        tool,
      }),
    );
    return { code, details: `${errorType}: ${message.slice(0, 1000)}`, metadata };
  }
}
