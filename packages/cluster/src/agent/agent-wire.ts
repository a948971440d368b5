/**
 * The Agent service (`trellis.cluster.v1.Agent`), served on a cluster node's own grpc-js server next
 * to the node-to-node service, with the same mTLS credentials. A client's pool asks an agent to run
 * Python workers for it; the data path then goes straight from the client to the worker (no hop
 * through the agent), so this service only starts, watches and stops workers:
 *
 *   Launch  unary          spawn one worker for an owner (node, incarnation, pool); reply once ready
 *   Watch   bidi stream    the owner pings; one message with the worker's exit when it exits
 *   Stop    unary          SIGTERM, SIGKILL after killAfterMs; reply with the exit
 *   Kill    unary          SIGKILL at once
 *
 * Bodies are JSON envelopes, as in node/wire.ts (and for the same reason: the launch is a JSON value
 * the pool already has, protobuf would only wrap it). Errors travel as `{ e: SerializedError }`.
 */
import type { SerializedError } from '@trellis/core';
import type { RemoteLaunch } from '@trellis/grpc-bridge';
import { jsonClient, jsonService } from '../node/wire.js';

/** Who a hosted worker belongs to: the pool of one incarnation of a client node. */
export interface WorkerOwner {
  readonly node: string;
  readonly incarnation: number;
  readonly pool: string;
}

/**
 * What a pool decides about one worker: grpc-bridge's RemoteLaunch, as JSON on the wire. The agent's
 * machine resolves the rest (Python path, cgroups, registry, listen address, TLS files).
 */
export type LaunchSpec = RemoteLaunch;

export interface LaunchReq {
  readonly launch: LaunchSpec;
  readonly owner: WorkerOwner;
}

/** A worker's exit as the agent saw it (grpc-bridge's WorkerExit without the node part). */
export interface WireExit {
  readonly pid: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderrTail?: string | undefined;
  /**
   * The agent killed it because this incarnation of its node is over (it lost its member lease, or
   * its member key is gone): the owner must count it lost with its node (`why: 'down'`), not restart
   * it there, since the agent refuses launches until it is a member again as a new incarnation.
   */
  readonly nodeGone?: boolean;
}

export type LaunchRep =
  | {
      readonly workerId: string;
      readonly pid: number;
      /** What the client dials: the agent's advertised host and the worker's port. */
      readonly address: string;
      /** Whether the worker serves mTLS (with the agent's node certificate) or plain TCP. */
      readonly tls: boolean;
      readonly startMs: number;
      /** The worker's DescribeResponse (tools, versions, concurrency...). */
      readonly info: unknown;
      /** The agent kills the worker when no Watch of its owner pinged for this long: ping well within it. */
      readonly ownerGraceMs: number;
    }
  | { readonly e: SerializedError };

export interface WorkerReq {
  readonly workerId: string;
}
export interface StopReq extends WorkerReq {
  readonly killAfterMs: number;
}
export type ExitRep = { readonly exit: WireExit } | { readonly e: SerializedError };
export type KillRep = { readonly ok: true } | { readonly e: SerializedError };
/**
 * Watch is a bidirectional stream: the owner sends `{ workerId }` first, then `{ ping: true }`
 * regularly. The pings are how the agent knows its owner still watches: a partitioned owner's TCP
 * connection does not close, and grpc-js would keep such a stream open for ever.
 */
export type WatchReq = WorkerReq | { readonly ping: true };
/** The one message the agent sends on a Watch stream. */
export type WatchEvent = { readonly exit: WireExit } | { readonly e: SerializedError };

export const AGENT_SERVICE = jsonService('trellis.cluster.v1.Agent', {
  Launch: 'unary',
  Watch: 'bidi',
  Stop: 'unary',
  Kill: 'unary',
});

/** The role an agent announces in its member record (watchNodes picks members with it). */
export const AGENT_ROLE = 'agent';

export const AgentClient = jsonClient(AGENT_SERVICE, 'Agent');
