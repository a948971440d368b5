/**
 * The node-to-node gRPC service, on grpc-js (the bridge's stack). Bodies are JSON in a bytes frame,
 * with no .proto: every message is an envelope of our own whose payload is the user's value, which
 * has no schema either, so protobuf would only wrap one bytes field. The service is small:
 *
 *   Call     unary          call a process of the target node (by global name or pid)
 *   Send     unary          send to it
 *   Exit     unary          an exit signal from a remote link
 *   Ping     unary          a probe (reachability) that also returns the node's incarnation
 *   Monitor  server stream  one message when the target exits (or at once: noproc)
 *
 * Every request carries the incarnation of the node it was meant for: a node that rejoined as a new
 * incarnation answers requests for its old one with noproc, since that incarnation's processes are
 * gone (Erlang's creation number).
 */
import {
  type ChannelCredentials,
  type Client,
  credentials,
  type MethodDefinition,
  makeGenericClientConstructor,
  ServerCredentials as SC,
  type ServerCredentials,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import type { ExitReason, Pid, SerializedError } from '@trellis/core';

export interface NodeTlsOptions {
  /** PEM of the CA that signed every node's certificate. */
  readonly ca: Buffer;
  /** This node's certificate (PEM) and private key; they serve and they authenticate as client (mTLS). */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The DNS name in the nodes' certificates, checked when dialing by IP (default 'trellis-node'). */
  readonly serverName?: string;
}

/** A process address: by pid, or by a global name the target node resolves itself. */
export type Target = { readonly pid: Pid } | { readonly name: string };

export interface CallReq {
  readonly inc: number;
  readonly to: Target;
  readonly req: unknown;
  readonly t: number;
}
export type CallRep = { readonly v: unknown } | { readonly e: SerializedError };
export interface SendReq {
  readonly inc: number;
  readonly to: Target;
  readonly msg: unknown;
}
export interface ExitReq {
  readonly inc: number;
  readonly pid: Pid;
  readonly reason: ExitReason;
}
export interface MonitorReq {
  readonly inc: number;
  readonly pid: Pid;
}
export interface MonitorEvent {
  readonly reason: ExitReason;
}
export interface PingRep {
  readonly node: string;
  readonly inc: number;
}
export type Ack = { readonly ok: true } | { readonly e: SerializedError };

const json = {
  requestSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  requestDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')),
  responseSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  responseDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')),
};

/** Which sides of a method stream: the node's methods are unary or server-streaming, the agent's Watch is bidi. */
export type Streaming = 'unary' | 'server' | 'bidi';

/** A service whose every body is a JSON envelope (this service and the agent's, agent-wire.ts). */
export function jsonService(
  service: string,
  methods: Readonly<Record<string, Streaming>>,
): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, streaming] of Object.entries(methods)) {
    def[name] = {
      path: `/${service}/${name}`,
      requestStream: streaming === 'bidi',
      responseStream: streaming !== 'unary',
      originalName: name.toLowerCase(),
      ...json,
    };
  }
  return def;
}

/** grpc-js's generic client of such a service (its methods looked up by name, untyped). */
export type JsonClient = new (
  address: string,
  creds: ChannelCredentials,
  options?: Record<string, unknown>,
) => Client & Record<string, (...args: any[]) => any>;

export function jsonClient(def: ServiceDefinition, name: string): JsonClient {
  return makeGenericClientConstructor(def, name) as unknown as JsonClient;
}

export const NODE_SERVICE = jsonService('trellis.cluster.v1.Node', {
  Call: 'unary',
  Send: 'unary',
  Exit: 'unary',
  Ping: 'unary',
  Monitor: 'server',
});

export const NodeClient = jsonClient(NODE_SERVICE, 'Node');

export function serverCredentials(tls: NodeTlsOptions | undefined): ServerCredentials {
  if (tls === undefined) return SC.createInsecure();
  return SC.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
}

export function clientCredentials(
  tls:
    | { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly serverName?: string }
    | undefined,
): {
  creds: ChannelCredentials;
  options: Record<string, unknown>;
} {
  // Node-to-node traffic goes straight to the peer, never through an HTTP proxy of the environment.
  if (tls === undefined)
    return { creds: credentials.createInsecure(), options: { 'grpc.enable_http_proxy': 0 } };
  const serverName = tls.serverName ?? 'trellis-node';
  return {
    creds: credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null),
    // Nodes dial each other by IP; the certificate names the DNS name (cluster-notes.md: DEP0123).
    options: {
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
      'grpc.enable_http_proxy': 0,
    },
  };
}
