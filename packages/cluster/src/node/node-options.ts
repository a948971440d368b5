/**
 * A cluster node's options, their defaults and their checks, and the parsing of the JSON records the
 * node reads back from etcd. Kept apart from the node so that every piece of it (member lease, global
 * names, key watch) checks and parses the same way.
 */
import { getLogger } from '@trellis/core';
import type { IKeyValue } from 'etcd3';
import { InvalidClusterOptionsError } from '../errors.js';
import type { EtcdTlsOptions } from '../etcd/etcd-connection.js';
import type { NodeTlsOptions } from './wire.js';

export interface ClusterOptions {
  /** etcd client URLs (default TRELLIS_ETCD, comma-separated). */
  readonly etcd?: readonly string[];
  readonly etcdTls?: EtcdTlsOptions;
  /** The cluster's name: the key prefix `/<name>/` (default 'trellis'). */
  readonly name?: string;
  /** This node's name, unique in the cluster (default `<hostname>-<pid>`). */
  readonly node?: string;
  /** TTL of the member lease (default 3000 ms; etcd counts whole seconds, so it is rounded up there). */
  readonly memberTtlMs?: number;
  /** Where the node-to-node gRPC server listens (default '127.0.0.1:0'). */
  readonly listen?: string;
  /** The address other nodes dial (default: the listen address with the port bound). */
  readonly advertise?: string;
  /** mTLS between nodes: every node presents a certificate signed by `ca` (`trellis certs`). */
  readonly tls?: NodeTlsOptions;
  /** Plain TCP between nodes, without TLS: only when set to true (a warning is logged). Either this or `tls`. */
  readonly insecure?: boolean;
  /** Interval of the reachability probes (default 1000 ms; 0 turns them off). */
  readonly probeIntervalMs?: number;
  /** Interval of the status record updates (default 5000 ms). */
  readonly statusIntervalMs?: number;
  /** Extra fields of the status record, called at every update (the pools' sizes are found without it). */
  readonly status?: () => Record<string, unknown>;
  /** How long the start waits for etcd (default 3000 ms) before ERR_CLUSTER_UNAVAILABLE. */
  readonly dialTimeoutMs?: number;
  /** Roles announced in the member record, e.g. 'agent' (`trellis agent`): placement picks nodes by them. */
  readonly roles?: readonly string[];
}

export const CLUSTER_DEFAULTS = Object.freeze({
  name: 'trellis',
  memberTtlMs: 3000,
  listen: '127.0.0.1:0',
  probeIntervalMs: 1000,
  statusIntervalMs: 5000,
  probeTimeoutMs: 500,
});

export type ConnectionState = 'up' | 'disconnected' | 'stopped';

const NAME_RE = /^[A-Za-z0-9_.:@-]{1,200}$/;

/** A cluster, node or global name: 1 to 200 characters that are safe in an etcd key. */
export function checkName(v: unknown, field: string): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) {
    throw new InvalidClusterOptionsError(
      `${field} is ${JSON.stringify(v)}; use 1 to 200 characters from A-Z a-z 0-9 _ . : @ -`,
      { field },
    );
  }
  return v;
}

/** Checks the options before anything dials etcd; returns the cluster's name. */
export function checkClusterOptions(o: ClusterOptions): string {
  const name = checkName(o.name ?? CLUSTER_DEFAULTS.name, 'cluster name');
  if (o.node !== undefined) checkName(o.node, 'node name');
  const ttl = o.memberTtlMs ?? CLUSTER_DEFAULTS.memberTtlMs;
  if (!(ttl >= 1000 && ttl <= 3_600_000))
    throw new InvalidClusterOptionsError(`memberTtlMs is ${ttl}; use 1000 to 3600000 ms`, {
      field: 'memberTtlMs',
    });
  if (o.tls === undefined && o.insecure !== true)
    throw new InvalidClusterOptionsError(
      'no tls option: nodes talk mTLS by default; make a CA and a certificate per node (`trellis certs init`, `trellis certs issue <node>`) and pass tls: readNodeTls(<node>), or pass insecure: true for plain TCP on a network you trust',
      { field: 'tls' },
    );
  if (o.tls !== undefined && o.insecure === true)
    throw new InvalidClusterOptionsError('both tls and insecure: true are set; pass one of them', {
      field: 'insecure',
    });
  if (o.insecure === true)
    getLogger().warn(
      { event: 'cluster_insecure', cluster: name, node: o.node },
      'insecure: true: calls between the nodes of this cluster go over plain TCP, unauthenticated and unencrypted; use tls (trellis certs) outside a trusted network',
    );
  return name;
}

/** A JSON record of ours, or undefined when the value is something else. */
export function parseRecord<R>(kv: IKeyValue, ok: (x: Record<string, unknown>) => boolean): R | undefined {
  try {
    const v = JSON.parse(kv.value.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && ok(v as Record<string, unknown>) ? (v as R) : undefined;
  } catch {
    return undefined;
  }
}
