/**
 * What a behaviour's reports (crash report, sys:get_status) show of the cluster node it holds: who
 * the node is, not the node object. The object reaches the etcd client, whose options hold etcd's
 * mTLS key and CA (a logger writes Buffers out byte by byte), and the whole membership; a report
 * needs the node's name, incarnation, address and connection state, and how many members it sees.
 */
import type { ClusterNode } from './cluster-node.js';

export interface NodeReport {
  readonly cluster: string;
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
  readonly state: string;
  readonly tls: boolean;
  readonly members: number;
}

export function nodeReport(n: ClusterNode): NodeReport {
  return {
    cluster: n.cluster,
    node: n.node,
    incarnation: n.incarnation,
    address: n.address,
    state: n.state,
    tls: n.tls !== undefined,
    members: n.membership.list().length,
  };
}
