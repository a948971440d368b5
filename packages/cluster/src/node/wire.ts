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

function method(name: string, responseStream = false): MethodDefinition<unknown, unknown> {
  return {
    path: `/trellis.cluster.v1.Node/${name}`,
    requestStream: false,
    responseStream,
    originalName: name.toLowerCase(),
    ...json,
  };
}

export const NODE_SERVICE: ServiceDefinition = {
  Call: method('Call'),
  Send: method('Send'),
  Exit: method('Exit'),
  Ping: method('Ping'),
  Monitor: method('Monitor', true),
};

export const NodeClient = makeGenericClientConstructor(NODE_SERVICE, 'Node') as unknown as new (
  address: string,
  creds: ChannelCredentials,
  options?: Record<string, unknown>,
) => Client & Record<string, (...args: any[]) => any>;

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
