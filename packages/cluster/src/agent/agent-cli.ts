/**
 * `pnpm trellis agent --cluster <name> [--etcd url,...] [--node name] [--listen host:port]
 * [--advertise host:port] [--certs dir | --insecure] [--owner-grace-ms n] [--member-ttl-ms n]`:
 * this machine as an agent of a cluster (start-agent.ts). It runs until SIGINT/SIGTERM, which stop
 * its workers in order and exit 0; a kill -9 takes its workers with it (parent death, registry).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { cliStreams } from '@trellis/core/cli';
import type { WorkerTls } from '@trellis/grpc-bridge';
import { defaultCertsDir, readNodeTls } from '../certs/certs.js';
import { type ClusterCliIo, csv, parseCliFlags, wholeFlag } from '../cli-flags.js';
import type { NodeTlsOptions } from '../node/wire.js';
import { startAgent } from './start-agent.js';

const USAGE =
  'usage: pnpm trellis agent --cluster <name> [--etcd http://host:2379,...] [--node <name>]\n' +
  '         [--listen host:port] [--advertise host:port] [--certs <dir> | --insecure]\n' +
  '         [--owner-grace-ms <ms>] [--member-ttl-ms <ms>]\n' +
  '  etcd endpoints default to TRELLIS_ETCD; the node name to this host name; --listen to 127.0.0.1:0;\n' +
  '  --certs to $TRELLIS_HOME/certs (ca.pem, <node>.pem, <node>.key from `trellis certs`)\n';

const FLAGS = {
  cluster: { type: 'string' },
  etcd: { type: 'string' },
  node: { type: 'string' },
  listen: { type: 'string' },
  advertise: { type: 'string' },
  certs: { type: 'string' },
  insecure: { type: 'boolean' },
  'owner-grace-ms': { type: 'string' },
  'member-ttl-ms': { type: 'string' },
} as const;

export async function main(args: string[], io: ClusterCliIo = {}): Promise<number> {
  const { stdout: out, stderr: err, env, cwd } = cliStreams(io);
  const parsed = parseCliFlags(args, FLAGS, { stdout: out, stderr: err }, USAGE);
  if (parsed === 'help') return 0;
  if (parsed === undefined) return 2;
  const f = parsed.values;
  const cluster = f.cluster;
  const endpoints = csv(f.etcd ?? env.TRELLIS_ETCD);
  const { node, listen, advertise, certs } = f;
  const insecure = f.insecure === true;
  const ownerGraceMs = wholeFlag(f['owner-grace-ms']);
  const memberTtlMs = wholeFlag(f['member-ttl-ms']);
  const problem =
    cluster === undefined
      ? '--cluster <name> is required'
      : endpoints.length === 0
        ? 'no etcd endpoints: pass --etcd http://<host>:2379 or set TRELLIS_ETCD'
        : certs !== undefined && insecure
          ? 'pass --certs or --insecure, not both'
          : certs === ''
            ? '--certs needs a directory'
            : Number.isNaN(ownerGraceMs) || Number.isNaN(memberTtlMs)
              ? '--owner-grace-ms and --member-ttl-ms take a whole number of milliseconds'
              : undefined;
  if (problem !== undefined) {
    err.write(`${problem}\n${USAGE}`);
    return 2;
  }
  const name = node ?? hostname();
  let tls: NodeTlsOptions | undefined;
  let tlsFiles: WorkerTls | undefined;
  try {
    if (!insecure) {
      tls = readNodeTls(name, { dir: certs, env, cwd });
      // The workers read the same files (--tls-*): nothing of the key is copied anywhere.
      const dir = defaultCertsDir({ dir: certs, env, cwd });
      tlsFiles = {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, `${name}.pem`),
        keyFile: join(dir, `${name}.key`),
      };
    }
    const agent = await startAgent({
      etcd: endpoints,
      name: cluster,
      node: name,
      listen,
      advertise,
      tls,
      tlsFiles,
      insecure: insecure || undefined,
      ownerGraceMs,
      memberTtlMs,
      cwd,
      ownProcess: true,
    });
    out.write(
      `${JSON.stringify({ event: 'agent_ready', cluster, node: agent.node.node, incarnation: agent.node.incarnation, address: agent.node.address, pid: process.pid })}\n`,
    );
    // SIGINT/SIGTERM stop the tree and exit 0 (core's start); a tree that died on its own exits 1.
    const reason = await agent.app.done;
    return reason.type === 'shutdown' || reason.type === 'normal' ? 0 : 1;
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 1;
  }
}
