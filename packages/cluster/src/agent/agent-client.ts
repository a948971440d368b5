/**
 * The client side of the Agent service (agent-wire.ts): one grpc-js channel per agent node, with
 * the node's own mTLS credentials, and the mapping of transport failures to the cluster's errors.
 * A refused TLS handshake becomes ERR_TLS_REFUSED with the reason (grpc-js alone says UNAVAILABLE,
 * like a dead host: tls-refusal.ts tells them apart); anything else that does not answer is
 * ERR_NODE_UNREACHABLE (the caller turns it into ERR_NODE_DOWN when the membership says so).
 */
import { type Client, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { deserializeError } from '@trellis/core';
import { NodeUnreachableError, TlsRefusedError } from '../errors.js';
import { probeTlsRefusal } from '../node/tls-refusal.js';
import { clientCredentials, type NodeTlsOptions } from '../node/wire.js';
import {
  AgentClient,
  type ExitRep,
  type KillRep,
  type LaunchRep,
  type LaunchReq,
  type StopReq,
  type WatchEvent,
  type WireExit,
  type WorkerReq,
} from './agent-wire.js';

type Stub = Client & Record<string, (...a: any[]) => any>;
export type LaunchOk = Exclude<LaunchRep, { e: unknown }>;

export class AgentConnection {
  readonly agent: string;
  readonly address: string;
  readonly #tls: NodeTlsOptions | undefined;
  readonly #client: Stub;

  constructor(agent: string, address: string, tls: NodeTlsOptions | undefined) {
    this.agent = agent;
    this.address = address;
    this.#tls = tls;
    const { creds, options } = clientCredentials(tls);
    this.#client = new AgentClient(address, creds, {
      ...options,
      // A Launch carries the pool's env and secret; replies carry a DescribeResponse: small.
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.enable_retries': 0,
    }) as Stub;
  }

  /** The error for a failed RPC: TLS refusal, unreachable, or the agent's own (`{ e }`). */
  async mapError(method: string, err: ServiceError): Promise<Error> {
    const what = `${method} on agent "${this.agent}"`;
    if (this.#tls !== undefined && err.code === GrpcStatus.UNAVAILABLE) {
      const reason = await probeTlsRefusal(this.address, this.#tls);
      if (reason !== undefined) return new TlsRefusedError(this.agent, this.address, reason);
    }
    return new NodeUnreachableError(this.agent, what, err.details || err.message);
  }

  #unary<R>(method: string, req: unknown, timeoutMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#client[method]?.(
        req,
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, rep: R & { e?: unknown }) => {
          if (err !== null) this.mapError(method, err).then(reject, reject);
          else if (rep !== null && typeof rep === 'object' && 'e' in rep)
            reject(deserializeError(rep.e as never));
          else resolve(rep);
        },
      );
    });
  }

  /** Starts a worker; resolves once the agent has it ready. */
  launch(req: LaunchReq, timeoutMs: number): Promise<LaunchOk> {
    return this.#unary<LaunchOk>('Launch', req, timeoutMs);
  }

  async stop(workerId: string, killAfterMs: number, timeoutMs = killAfterMs + 5000): Promise<WireExit> {
    const rep = await this.#unary<Exclude<ExitRep, { e: unknown }>>(
      'Stop',
      { workerId, killAfterMs } satisfies StopReq,
      timeoutMs,
    );
    return rep.exit;
  }

  async kill(workerId: string, timeoutMs = 3000): Promise<void> {
    await this.#unary<KillRep>('Kill', { workerId } satisfies WorkerReq, timeoutMs);
  }

  /**
   * Watches a worker: pings every `pingMs` so the agent knows its owner is still there; `onExit`
   * once with its exit, or `onError` once when the stream fails without one (the agent refused the
   * watch: `{ e }`; the stream broke: a transport error). Returns the cancel function.
   */
  watch(
    workerId: string,
    pingMs: number,
    onExit: (e: WireExit) => void,
    onError: (e: Error) => void,
  ): () => void {
    let done = false;
    const call = this.#client.Watch?.();
    const timer = setInterval(() => {
      if (!done) call.write({ ping: true });
    }, pingMs);
    const finish = (): void => {
      done = true;
      clearInterval(timer);
    };
    call.on('data', (ev: WatchEvent) => {
      if (done) return;
      finish();
      if ('exit' in ev) onExit(ev.exit);
      else onError(deserializeError(ev.e));
      call.cancel();
    });
    call.on('error', (err: ServiceError) => {
      if (done) return;
      finish();
      this.mapError('Watch', err).then(onError, onError);
    });
    call.on('end', () => {
      if (done) return;
      finish();
      onError(new NodeUnreachableError(this.agent, `Watch on agent "${this.agent}"`, 'the stream ended'));
    });
    call.write({ workerId } satisfies WorkerReq);
    return () => {
      if (done) return;
      finish();
      call.cancel();
    };
  }

  close(): void {
    this.#client.close();
  }
}
