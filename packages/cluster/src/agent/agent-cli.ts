/**
 * `pnpm trellis agent --cluster <name> [--etcd url,...] [--node name] [--listen host:port]
 * [--advertise host:port] [--certs dir | --insecure] [--owner-grace-ms n] [--member-ttl-ms n]`:
 * this machine as an agent of a cluster (start-agent.ts). It runs until SIGINT/SIGTERM, which stop
 * its workers in order and exit 0; a kill -9 takes its workers with it (parent death, registry).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { WorkerTls } from '@trellis/grpc-bridge';
import { defaultCertsDir, readNodeTls } from '../certs/certs.js';
import type { NodeTlsOptions } from '../node/wire.js';
import { startAgent } from './start-agent.js';

export interface CliIo {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly stdout?: { write(s: string): unknown };
  readonly stderr?: { write(s: string): unknown };
}

const USAGE =
  'usage: pnpm trellis agent --cluster <name> [--etcd http://host:2379,...] [--node <name>]\n' +
  '         [--listen host:port] [--advertise host:port] [--certs <dir> | --insecure]\n' +
  '         [--owner-grace-ms <ms>] [--member-ttl-ms <ms>]\n' +
  '  etcd endpoints default to TRELLIS_ETCD; the node name to this host name; --listen to 127.0.0.1:0;\n' +
  '  --certs to $TRELLIS_HOME/certs (ca.pem, <node>.pem, <node>.key from `trellis certs`)\n';

function whole(v: string | undefined): number | undefined {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export async function main(args: string[], io: CliIo = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  let cluster: string | undefined;
  let endpoints = (env.TRELLIS_ETCD ?? '').split(',').filter((s) => s !== '');
  let node: string | undefined;
  let listen: string | undefined;
  let advertise: string | undefined;
  let certs: string | undefined;
  let insecure = false;
  let ownerGraceMs: number | undefined;
  let memberTtlMs: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string | undefined => {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) return undefined;
      i++;
      return v;
    };
    if (a === '--cluster') cluster = value();
    else if (a === '--etcd') endpoints = (value() ?? '').split(',').filter((s) => s !== '');
    else if (a === '--node') node = value();
    else if (a === '--listen') listen = value();
    else if (a === '--advertise') advertise = value();
    else if (a === '--certs') certs = value() ?? '';
    else if (a === '--insecure') insecure = true;
    else if (a === '--owner-grace-ms') ownerGraceMs = whole(value()) ?? -1;
    else if (a === '--member-ttl-ms') memberTtlMs = whole(value()) ?? -1;
    else if (a === '--help' || a === '-h') {
      out.write(USAGE);
      return 0;
    } else {
      err.write(`unknown argument "${a}"\n${USAGE}`);
      return 2;
    }
  }
  const problem =
    cluster === undefined
      ? '--cluster <name> is required'
      : endpoints.length === 0
        ? 'no etcd endpoints: pass --etcd http://<host>:2379 or set TRELLIS_ETCD'
        : certs !== undefined && insecure
          ? 'pass --certs or --insecure, not both'
          : certs === ''
            ? '--certs needs a directory'
            : ownerGraceMs === -1 || memberTtlMs === -1
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
      tls = readNodeTls(name, { dir: certs, env, cwd: io.cwd });
      // The workers read the same files (--tls-*): nothing of the key is copied anywhere.
      const dir = defaultCertsDir({ dir: certs, env, cwd: io.cwd });
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
      cwd: io.cwd,
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
