/**
 * One Ping to a node's gRPC service from outside any cluster node: for tooling (is that node up,
 * does it accept my certificate?) and for the tests of the refusals. Same credentials and the same
 * refusal mapping as calls between nodes (peers.ts): ERR_TLS_REFUSED with the reason, never a bare
 * UNAVAILABLE.
 */
import { type Client, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { InvalidClusterOptionsError, NodeUnreachableError, TlsRefusedError } from '../errors.js';
import { type ClientTls, probeTlsRefusal } from './tls-refusal.js';
import { clientCredentials, NodeClient, type PingRep } from './wire.js';

export interface PingNodeOptions {
  /** The cluster CA, and this client's certificate and key (omit them to connect without one). */
  readonly tls?: ClientTls;
  /** Plain TCP (the node must run with insecure: true). */
  readonly insecure?: boolean;
  readonly timeoutMs?: number;
  /** The node's name, for messages (default: the address). */
  readonly node?: string;
}

export async function pingNode(address: string, o: PingNodeOptions): Promise<PingRep> {
  if ((o.tls === undefined) === (o.insecure !== true))
    throw new InvalidClusterOptionsError(
      'pingNode needs exactly one of tls: { ca, cert?, key? } and insecure: true',
      {
        field: 'tls',
      },
    );
  const node = o.node ?? address;
  const { creds, options } = clientCredentials(o.tls);
  const client = new NodeClient(address, creds, options) as Client & Record<string, (...a: any[]) => any>;
  try {
    return await new Promise<PingRep>((resolve, reject) => {
      client.Ping?.(
        {},
        { deadline: Date.now() + (o.timeoutMs ?? 3000) },
        (err: ServiceError | null, rep: PingRep) => {
          if (err === null) resolve(rep);
          else reject(err);
        },
      );
    });
  } catch (e) {
    const err = e as ServiceError;
    if (o.tls !== undefined && err.code === GrpcStatus.UNAVAILABLE) {
      const reason = await probeTlsRefusal(address, o.tls);
      if (reason !== undefined) throw new TlsRefusedError(node, address, reason);
    }
    throw new NodeUnreachableError(node, `Ping of node "${node}"`, err.details ?? err);
  } finally {
    client.close();
  }
}
