/**
 * `pnpm trellis status --cluster [<cluster>] [--etcd <url,...>] [--json]`: every node of a cluster
 * as etcd has it (member keys, status records), its global names and leader leases. Reads only; it
 * joins nothing. Self-contained here so that any CLI front end (scripts/trellis-cli.mjs, a `bin`)
 * can call `main(args, io)` and get the exit code.
 */
import { EtcdConnection } from './etcd/etcd-connection.js';
import { readClusterView } from './node/status.js';

export interface CliIo {
  readonly env?: NodeJS.ProcessEnv;
  readonly stdout?: { write(s: string): unknown };
  readonly stderr?: { write(s: string): unknown };
}

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

export async function main(args: string[], io: CliIo = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  let cluster = 'trellis';
  let endpoints = (env.TRELLIS_ETCD ?? '').split(',').filter((s) => s !== '');
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--cluster') {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        cluster = next;
        i++;
      }
    } else if (a === '--etcd') endpoints = (args[++i] ?? '').split(',').filter((s) => s !== '');
    else if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') {
      out.write(USAGE);
      return 0;
    } else {
      err.write(`unknown argument "${a}"\n${USAGE}`);
      return 2;
    }
  }
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
