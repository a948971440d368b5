/**
 * One connection to an etcd cluster, and the only file that knows the client library (`etcd3`).
 *
 * Why etcd3 and not a client of our own (docs/cluster.md, "Client"): it runs on this repo's grpc-js,
 * ships etcd's protos, and its watch manager resumes watches from the last revision after a
 * reconnect, which is the hard part of a client. We use its raw RPC clients (KVClient, LeaseClient)
 * for everything that decides (txn, grant, keep-alive), so that we control each call's deadline and
 * the send time of every keep-alive, and never use its `Lease` object, whose `lost` event came about
 * 2.7 s after another node already held the lease (shared/cluster-notes.md).
 *
 * Its fault policies are replaced: the default per-host circuit breaker keeps a host "broken" for a
 * while after it failed, which would delay a rejoin after etcd comes back. We keep a plain retry over
 * the other endpoints (a 3-member etcd whose leader died), each call bounded by a deadline.
 */
import type { CallOptions } from '@grpc/grpc-js';
import { handleWhen, noop, retry } from 'cockatiel';
import {
  Etcd3,
  type ICompare,
  type IDuplexStream,
  type IKeyValue,
  type ILeaseKeepAliveRequest,
  type ILeaseKeepAliveResponse,
  type IRequestOp,
  type ITxnResponse,
  isRecoverableError,
  type Watcher,
} from 'etcd3';
import { ClusterUnavailableError, InvalidClusterOptionsError } from '../errors.js';

/** TLS to etcd (client certificates optional, as etcd's --client-cert-auth decides). */
export interface EtcdTlsOptions {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface EtcdOptions {
  /** Client URLs, e.g. ['http://127.0.0.1:2379']. Default: TRELLIS_ETCD (comma-separated). */
  readonly endpoints?: readonly string[];
  readonly tls?: EtcdTlsOptions;
  /** How long connect() waits for an answer before ERR_CLUSTER_UNAVAILABLE (default 3000 ms). */
  readonly dialTimeoutMs?: number;
  /** The deadline of every call that has none of its own (default 2000 ms). */
  readonly callTimeoutMs?: number;
}

export const ETCD_DEFAULTS = Object.freeze({ dialTimeoutMs: 3000, callTimeoutMs: 2000 });

/** etcd compare targets and results, as numbers: with etcd3's protos, the upstream enum NAMES map to 0 (cluster-notes.md). */
export const Target = Object.freeze({ version: 0, create: 1, mod: 2, value: 3, lease: 4 });
export const Result = Object.freeze({ equal: 0, greater: 1, less: 2, notEqual: 3 });

export const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
export const num = (v: string | number | undefined | null): number => (v == null ? 0 : Number(v));

export function resolveEndpoints(endpoints: readonly string[] | undefined): string[] {
  const list = endpoints ?? (process.env.TRELLIS_ETCD ?? '').split(',').filter((s) => s.trim() !== '');
  if (!Array.isArray(list) || list.length === 0 || list.some((e) => typeof e !== 'string' || e === '')) {
    throw new InvalidClusterOptionsError(
      `etcd endpoints are ${JSON.stringify(endpoints)}; pass etcd: ['http://<host>:2379', ...] or set TRELLIS_ETCD=http://<host>:2379`,
      { field: 'etcd' },
    );
  }
  return list.map((e) => e.trim());
}

interface PendingKeepAlive {
  readonly id: string;
  readonly resolve: (r: ILeaseKeepAliveResponse) => void;
  readonly reject: (e: unknown) => void;
}

export class EtcdConnection {
  readonly client: Etcd3;
  readonly endpoints: readonly string[];
  readonly callTimeoutMs: number;
  #kaStream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse> | undefined;
  #kaOpening: Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> | undefined;
  #kaPending: PendingKeepAlive[] = [];
  #closed = false;

  private constructor(endpoints: string[], o: EtcdOptions) {
    this.endpoints = endpoints;
    this.callTimeoutMs = o.callTimeoutMs ?? ETCD_DEFAULTS.callTimeoutMs;
    this.client = new Etcd3({
      hosts: endpoints,
      credentials:
        o.tls === undefined
          ? undefined
          : { rootCertificate: o.tls.ca, privateKey: o.tls.key, certChain: o.tls.cert },
      dialTimeout: o.dialTimeoutMs ?? ETCD_DEFAULTS.dialTimeoutMs,
      faultHandling: {
        host: () => noop,
        global: retry(handleWhen(isRecoverableError), { maxAttempts: Math.max(2, endpoints.length) }),
      },
      // Cluster traffic goes straight to etcd, never through an HTTP proxy of the environment.
      grpcOptions: {
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.enable_http_proxy': 0,
      },
    });
  }

  /** Connects and checks that etcd answers; ERR_CLUSTER_UNAVAILABLE (naming the endpoints) when not. */
  static async connect(o: EtcdOptions = {}): Promise<EtcdConnection> {
    const endpoints = resolveEndpoints(o.endpoints);
    const c = new EtcdConnection(endpoints, o);
    try {
      await c.range('/', o.dialTimeoutMs ?? ETCD_DEFAULTS.dialTimeoutMs);
    } catch (e) {
      c.close();
      throw new ClusterUnavailableError(endpoints, e);
    }
    return c;
  }

  opts(timeoutMs = this.callTimeoutMs): CallOptions {
    return { deadline: Date.now() + timeoutMs };
  }

  async range(key: string, timeoutMs?: number): Promise<{ kv: IKeyValue | undefined; revision: number }> {
    const r = await this.client.kv.range({ key: enc(key) }, this.opts(timeoutMs));
    return { kv: r.kvs[0], revision: num(r.header.revision) };
  }

  async rangePrefix(prefix: string, timeoutMs?: number): Promise<{ kvs: IKeyValue[]; revision: number }> {
    const p = enc(prefix);
    const end = Buffer.from(p);
    end[end.length - 1] += 1;
    const r = await this.client.kv.range({ key: p, range_end: end }, this.opts(timeoutMs));
    return { kvs: r.kvs, revision: num(r.header.revision) };
  }

  txn(
    compare: ICompare[],
    success: IRequestOp[],
    failure: IRequestOp[],
    timeoutMs?: number,
  ): Promise<ITxnResponse> {
    return this.client.kv.txn({ compare, success, failure }, this.opts(timeoutMs));
  }

  async leaseGrant(ttlS: number, timeoutMs?: number): Promise<{ id: string; ttlS: number }> {
    const r = await this.client.leaseClient.leaseGrant({ TTL: ttlS, ID: 0 }, this.opts(timeoutMs));
    return { id: String(r.ID), ttlS: num(r.TTL) };
  }

  async leaseRevoke(id: string, timeoutMs?: number): Promise<void> {
    await this.client.leaseClient.leaseRevoke({ ID: id }, this.opts(timeoutMs));
  }

  /** Remaining TTL in seconds (-1: expired or unknown). */
  async leaseTtl(id: string, timeoutMs?: number): Promise<number> {
    const r = await this.client.leaseClient.leaseTimeToLive({ ID: id, keys: false }, this.opts(timeoutMs));
    return num(r.TTL);
  }

  /**
   * One keep-alive on the shared LeaseKeepAlive stream; resolves with the new TTL in seconds (0 or
   * less: the lease is gone). Rejects after `timeoutMs` without an answer: the caller's deadline, not
   * the stream's, decides whether it still holds the lease.
   */
  async keepAliveOnce(id: string, timeoutMs = this.callTimeoutMs): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const stream = await withTimeout(this.#keepAliveStream(), until - Date.now(), 'keep-alive stream');
        const answer = new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
          this.#kaPending.push({ id, resolve, reject });
        });
        stream.write({ ID: id });
        const r = await withTimeout(answer, until - Date.now(), 'keep-alive');
        return num(r.TTL);
      } catch (e) {
        // A stream on a dead member fails at once (connection refused): open one on another member
        // while the time lasts (a 3-member etcd whose leader was just killed).
        if (this.#closed || Date.now() + 20 >= until || /no answer from etcd/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  #keepAliveStream(): Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> {
    if (this.#kaStream !== undefined) return Promise.resolve(this.#kaStream);
    if (this.#kaOpening !== undefined) return this.#kaOpening;
    const opening = this.client.leaseClient.leaseKeepAlive().then((s) => {
      const fail = (e: unknown) => {
        if (this.#kaStream === s) this.#kaStream = undefined;
        // Answers come in request order on one stream: whatever was pending now never comes.
        for (const p of this.#kaPending.splice(0)) p.reject(e);
        try {
          s.end();
        } catch {
          // already ended
        }
      };
      s.on('data', (r: ILeaseKeepAliveResponse) => {
        const i = this.#kaPending.findIndex((p) => p.id === String(r.ID));
        if (i >= 0) this.#kaPending.splice(i, 1)[0]?.resolve(r);
      });
      s.on('error', fail);
      s.on('end', () => fail(new Error('keep-alive stream ended')));
      if (this.#closed) fail(new Error('etcd connection closed'));
      else this.#kaStream = s;
      return s;
    });
    this.#kaOpening = opening;
    const clear = () => {
      if (this.#kaOpening === opening) this.#kaOpening = undefined;
    };
    opening.then(clear, clear);
    return opening;
  }

  /** A prefix watch from `fromRevision` (inclusive); etcd3 resumes it after reconnects. */
  watchPrefix(prefix: string, fromRevision?: number): Promise<Watcher> {
    let b = this.client.watch().prefix(prefix).withPreviousKV();
    if (fromRevision !== undefined) b = b.startRevision(String(fromRevision));
    return b.create();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#kaPending.splice(0)) p.reject(new Error('etcd connection closed'));
    try {
      this.#kaStream?.end();
    } catch {
      // already ended
    }
    this.client.close();
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`${what}: no answer from etcd within ${Math.round(ms)} ms`)),
      ms,
    );
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
