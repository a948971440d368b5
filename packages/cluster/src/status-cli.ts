/**
 * `pnpm trellis status --cluster [<cluster>] [--etcd <url,...>] [--json]`: every node of a cluster
 * as etcd has it (member keys, status records), its global names and leader leases. Reads only; it
 * joins nothing. Self-contained here so that any CLI front end (scripts/trellis-cli.mjs, a `bin`)
 * can call `main(args, io)` and get the exit code.
 */
import { cliStreams } from '@trellis/core/cli';
import { type ClusterCliIo, csv, parseCliFlags } from './cli-flags.js';
import { EtcdConnection } from './etcd/etcd-connection.js';
import { readClusterView } from './node/status.js';

const USAGE =
  'usage: pnpm trellis status --cluster [<cluster name, default trellis>] [--etcd http://host:2379,...] [--json]\n' +
  '  etcd endpoints default to TRELLIS_ETCD\n';

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(w[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const FLAGS = {
  // `--cluster [name]`: the name is optional (default trellis), so it is the positional after it.
  cluster: { type: 'boolean' },
  etcd: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function main(args: string[], io: ClusterCliIo = {}): Promise<number> {
  const { stdout: out, stderr: err, env } = cliStreams(io);
  const parsed = parseCliFlags(args, FLAGS, { stdout: out, stderr: err }, USAGE, true);
  if (parsed === 'help') return 0;
  if (parsed === undefined) return 2;
  const [name, extra] = parsed.positionals;
  if (extra !== undefined || (name !== undefined && parsed.values.cluster !== true)) {
    err.write(`unexpected "${extra ?? name}"\n${USAGE}`);
    return 2;
  }
  const cluster = name ?? 'trellis';
  const endpoints = csv(parsed.values.etcd ?? env.TRELLIS_ETCD);
  const json = parsed.values.json === true;
  if (endpoints.length === 0) {
    err.write(`no etcd endpoints: pass --etcd http://<host>:2379 or set TRELLIS_ETCD\n${USAGE}`);
    return 2;
  }
  let conn: EtcdConnection;
  try {
    conn = await EtcdConnection.connect({ endpoints, dialTimeoutMs: 2000 });
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 1;
  }
  try {
    const view = await readClusterView(conn, cluster);
    if (json) {
      out.write(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    const now = Date.now();
    out.write(
      `cluster "${cluster}" at ${endpoints.join(', ')} (revision ${view.revision}): ${view.nodes.length} node(s)\n\n`,
    );
    if (view.nodes.length > 0) {
      const rows = [
        [
          'NODE',
          'INCARNATION',
          'HOST',
          'PID',
          'ADDRESS',
          'STATE',
          'PROCS',
          'OS CHILDREN',
          'POOLS (READY/SIZE)',
          'NAMES',
          'UPDATED',
        ],
      ];
      for (const n of view.nodes) {
        const s = n.status;
        const m = n.member as { host?: string; pid?: number; address?: string };
        rows.push([
          n.node,
          String(n.incarnation),
          s?.host ?? m.host ?? '?',
          String(s?.pid ?? m.pid ?? '?'),
          s?.address ?? m.address ?? '?',
          s?.state ?? '?',
          s ? String(s.processes) : '?',
          s ? String(s.children.length) : '?',
          s ? (s.pools ?? []).map((p) => `${p.name} ${p.ready}/${p.size}`).join(', ') || '-' : '?',
          s ? String(s.names.length) : '?',
          s ? `${Math.round((now - s.updatedAt) / 1000)} s ago` : 'no status yet',
        ]);
      }
      out.write(`${table(rows)}\n`);
    }
    if (view.names.length > 0) {
      out.write(
        `\n${table([['GLOBAL NAME', 'NODE', 'PID'], ...view.names.map((n) => [n.name, n.node, n.pid])])}\n`,
      );
    }
    if (view.leases.length > 0) {
      out.write(
        `\n${table([
          ['LEASE', 'HOLDER', 'EPOCH'],
          ...view.leases.map((l) => [
            l.lease,
            String((l.holder as { id?: string } | null)?.id ?? '-'),
            String(l.epoch),
          ]),
        ])}\n`,
      );
    }
    return 0;
  } finally {
    conn.close();
  }
}
