/** Errors raised by @trellis/cluster; every code is documented in docs/errors.md. */
import { InvalidOptionsError, TrellisError } from '@trellis/core';

/** Bad options to a cluster node, the etcd connection or the etcd lease store. */
export class InvalidClusterOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_CLUSTER_OPTIONS';
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

// NodeDownError and NodeUnreachableError moved to @trellis/core (a grpc-bridge pool with workers on
// other nodes raises them too); this package re-exports them under the same names.
export { NodeDownError, NodeUnreachableError } from '@trellis/core';

/**
 * A TLS handshake with a node was refused: the peer rejected this side's certificate (none, another
 * CA's, expired), or this side rejected the peer's. grpc-js alone reports it as UNAVAILABLE, which
 * looks exactly like a dead host; this says what it is and why.
 */
export class TlsRefusedError extends TrellisError {
  constructor(node: string, address: string, reason: string) {
    super(
      'ERR_TLS_REFUSED',
      `TLS with node "${node}" at ${address} was refused: ${reason}; give this node a certificate signed by the cluster's CA (\`trellis certs issue <node>\`, option tls: { ca, cert, key }), not expired, with the DNS name the nodes check (default trellis-node) in its SANs`,
      { details: { node, address, reason } },
    );
  }
}

/** `trellis certs init|issue` (or initClusterCa/issueNodeCert) could not make a certificate. */
export class ClusterCertsError extends TrellisError {
  constructor(message: string, cause?: unknown) {
    super('ERR_CLUSTER_CERTS', message, { cause });
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

/**
 * An agent refused to launch a worker: the node is not an agent, it lost its member lease, it is
 * stopping, or the request was malformed (`details.reason` says which).
 */
export class AgentRefusedError extends TrellisError {
  /** `leaseLost`: refused because the agent is not a member now (its incarnation is over). */
  constructor(agent: string, reason: string, hint: string, leaseLost = false) {
    super('ERR_AGENT_REFUSED', `agent "${agent}" refused the launch: ${reason}; ${hint}`, {
      details: { agent, reason, ...(leaseLost ? { leaseLost: true } : {}) },
    });
  }
}

/** Watch, Stop or Kill named a worker the agent does not host (never launched, or long gone). */
export class AgentNoWorkerError extends TrellisError {
  constructor(agent: string, workerId: string) {
    super(
      'ERR_AGENT_NO_WORKER',
      `agent "${agent}" hosts no worker "${workerId}": it exited and was forgotten, or the agent restarted since it was launched; launch a new worker`,
      { details: { agent, workerId } },
    );
  }
}
