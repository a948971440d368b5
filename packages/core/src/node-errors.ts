/**
 * The two ways a node of a cluster can fail a caller: it is down (not a member any more), or it is a
 * member that does not answer. They live in core, not in @trellis/cluster, because more than the
 * cluster raises them: a @trellis/grpc-bridge pool whose workers run on other nodes fails the calls
 * in flight there with these same codes, and the bridge must not depend on the cluster package (the
 * cluster depends on the bridge to place workers). @trellis/cluster re-exports both under the same
 * names. `details` carries `node`, and `incarnation` when the caller knows which life of the node it
 * was (a node that rejoins is a new incarnation), plus whatever the raiser adds (tool, workerPid).
 */
import { TrellisError } from './errors.js';

/** What a raiser may add to a node error beyond the node's name. */
export interface NodeErrorExtra {
  /** Which life of the node (its member record's incarnation), when known. */
  readonly incarnation?: number | undefined;
  /** More facts for `details` (e.g. the tool and worker pid of a call that was running there). */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  /** Appended to the message: what the caller does about it (e.g. "it was not retried"). */
  readonly hint?: string | undefined;
  readonly cause?: unknown;
}

function nodeDetails(node: string, extra: NodeErrorExtra | undefined): Record<string, unknown> {
  const d: Record<string, unknown> = { node, ...extra?.details };
  if (extra?.incarnation !== undefined) d.incarnation = extra.incarnation;
  return d;
}

function named(node: string, extra: NodeErrorExtra | undefined): string {
  return extra?.incarnation === undefined
    ? `node "${node}"`
    : `node "${node}" (incarnation ${extra.incarnation})`;
}

/** ERR_NODE_DOWN: the target node is not a member (its member key expired or was deleted). */
export class NodeDownError extends TrellisError {
  readonly node: string;
  readonly incarnation: number | undefined;

  constructor(node: string, what: string, extra?: NodeErrorExtra) {
    super(
      'ERR_NODE_DOWN',
      `${what}: ${named(node, extra)} is down (not a member of the cluster); ${extra?.hint ?? 'retry after it rejoins, or handle the call failing like a crashed server'}`,
      { cause: extra?.cause, details: nodeDetails(node, extra) },
    );
    this.node = node;
    this.incarnation = extra?.incarnation;
  }
}

/** ERR_NODE_UNREACHABLE: the target node is a member, but this node cannot reach it now. */
export class NodeUnreachableError extends TrellisError {
  readonly node: string;
  readonly incarnation: number | undefined;

  constructor(node: string, what: string, cause: unknown, extra?: NodeErrorExtra) {
    super(
      'ERR_NODE_UNREACHABLE',
      `${what}: ${named(node, extra)} is a member but does not answer (${(cause as Error)?.message ?? String(cause)}); it may be partitioned from this node or overloaded: ${extra?.hint ?? 'retry, or treat it like a timeout'}`,
      { cause: extra?.cause ?? cause, details: nodeDetails(node, extra) },
    );
    this.node = node;
    this.incarnation = extra?.incarnation;
  }
}
