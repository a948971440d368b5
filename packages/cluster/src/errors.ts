/** Errors raised by @trellis/cluster; every code is documented in docs/errors.md. */
import { TrellisError } from '@trellis/core';

/** Bad options to a cluster node, the etcd connection or the etcd lease store. */
export class InvalidClusterOptionsError extends TrellisError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ERR_INVALID_CLUSTER_OPTIONS', message, { details });
  }
}

/** etcd answered none of the endpoints within the dial timeout (at start, or for a call). */
export class ClusterUnavailableError extends TrellisError {
  constructor(endpoints: readonly string[], cause: unknown, what = 'connect to etcd') {
    super(
      'ERR_CLUSTER_UNAVAILABLE',
      `cannot ${what} at ${endpoints.join(', ')}: ${(cause as Error)?.message ?? String(cause)}; start etcd there (or fix the endpoints in the cluster option / TRELLIS_ETCD), check that this host can reach them, and that the TLS settings match the server's`,
      { cause, details: { endpoints: [...endpoints] } },
    );
  }
}

/** Another live process of the cluster is a member under this node name. */
export class NodeNameTakenError extends TrellisError {
  constructor(cluster: string, node: string, holder: unknown) {
    super(
      'ERR_CLUSTER_NODE_NAME_TAKEN',
      `node name "${node}" is already a live member of cluster "${cluster}" (${JSON.stringify(holder)}); give each node its own name (option node), or stop the other one; a crashed node's name frees itself when its member lease expires`,
      { details: { cluster, node, holder } },
    );
  }
}

/** The target node is not a member (its member key expired or was deleted): it is down. */
export class NodeDownError extends TrellisError {
  constructor(node: string, what: string) {
    super(
      'ERR_NODE_DOWN',
      `${what}: node "${node}" is down (not a member of the cluster); retry after it rejoins, or handle the call failing like a crashed server`,
      { details: { node } },
    );
  }
}

/** The target node is a member, but this node cannot reach it now. */
export class NodeUnreachableError extends TrellisError {
  constructor(node: string, what: string, cause: unknown) {
    super(
      'ERR_NODE_UNREACHABLE',
      `${what}: node "${node}" is a member but does not answer (${(cause as Error)?.message ?? String(cause)}); it may be partitioned from this node or overloaded: retry, or treat it like a timeout`,
      { cause, details: { node } },
    );
  }
}

/** A peer refused this node's TLS identity, or this node refused the peer's. */
export class ClusterTlsError extends TrellisError {
  constructor(node: string, cause: unknown) {
    super(
      'ERR_CLUSTER_TLS',
      `TLS between this node and node "${node}" failed (${(cause as Error)?.message ?? String(cause)}); give every node a certificate signed by the cluster's CA (option tls: { ca, cert, key }) with the node's DNS name in its SANs`,
      { cause, details: { node } },
    );
  }
}

/**
 * The exit reason of a remote monitor or link whose node went down: OTP's `noconnection`. It is an
 * abnormal exit (an `{ error, cause }` reason with this cause), so a supervisor restarts the child
 * as for any crash.
 */
export class NoConnectionError extends TrellisError {
  constructor(node: string, incarnation: number) {
    super(
      'ERR_NOCONNECTION',
      `noconnection: node "${node}" (incarnation ${incarnation}) went down; its processes are gone for this node`,
      { details: { node, incarnation, noconnection: true } },
    );
  }
}
