/**
 * The status record each node publishes under `/<cluster>/status/<node>` (on its member lease, so it
 * goes with the node), and the reader behind `trellis status --cluster`.
 *
 * The record is small and generic: identity (host, pid, incarnation, address), the number of local
 * processes, the global names held here, the OS processes this node supervises (its direct children:
 * Python workers, tool servers) and the Trellis runs they belong to, memory, and whatever the app adds
 * with the `status` option (e.g. `{ pools: { tools: pool.stats() } }`). Refreshed every
 * statusIntervalMs, and soon after the node's global names change.
 */
import { hostname } from 'node:os';
import { listProcessIds, readProcCmdline, readProcStat } from '@trellis/core';
import type { EtcdConnection } from '../etcd/etcd-connection.js';
import { num } from '../etcd/etcd-connection.js';

export interface ChildProcessInfo {
  readonly pid: number;
  readonly command: string;
  /** The Trellis run the process belongs to (its `--trellis-run-id=` marker), if any. */
  readonly run: string | undefined;
}

export interface NodeStatus {
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  readonly incarnation: number;
  readonly address: string;
  readonly state: string;
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly processes: number;
  readonly names: readonly string[];
  readonly children: readonly ChildProcessInfo[];
  /** The Trellis runs of those processes (the registry's run ids). */
  readonly runs: readonly string[];
  readonly rssBytes: number;
  readonly extra: Record<string, unknown>;
}

interface StatusSource {
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
  readonly state: string;
  readonly local: { readonly procs: { readonly size: number } };
}

const startedAt = Date.now();

/** The OS processes whose parent is this process (bounded to 200). */
export function childProcesses(): ChildProcessInfo[] {
  const out: ChildProcessInfo[] = [];
  for (const pid of listProcessIds()) {
    const st = readProcStat(pid);
    if (st === undefined || st.ppid !== process.pid) continue;
    const argv = readProcCmdline(pid) ?? [];
    const marker = argv.find((a) => a.startsWith('--trellis-run-id='));
    out.push({
      pid,
      command: argv.slice(0, 4).join(' ').slice(0, 200),
      run: marker === undefined ? undefined : marker.slice('--trellis-run-id='.length),
    });
    if (out.length >= 200) break;
  }
  return out;
}

export function collectStatus(
  n: StatusSource,
  names: string[],
  extra?: () => Record<string, unknown>,
): NodeStatus {
  const children = childProcesses();
  let more: Record<string, unknown> = {};
  try {
    more = extra?.() ?? {};
  } catch (e) {
    more = { error: String(e) };
  }
  return {
    node: n.node,
    host: hostname(),
    pid: process.pid,
    incarnation: n.incarnation,
    address: n.address,
    state: n.state,
    startedAt,
    updatedAt: Date.now(),
    processes: n.local.procs.size,
    names,
    children,
    runs: [...new Set(children.flatMap((c) => (c.run === undefined ? [] : [c.run])))],
    rssBytes: process.memoryUsage.rss(),
    extra: more,
  };
}

export interface ClusterView {
  readonly cluster: string;
  readonly revision: number;
  readonly nodes: readonly {
    readonly node: string;
    readonly incarnation: number;
    readonly member: unknown;
    readonly status: NodeStatus | undefined;
  }[];
  readonly names: readonly { readonly name: string; readonly node: string; readonly pid: string }[];
  readonly leases: readonly { readonly lease: string; readonly holder: unknown; readonly epoch: number }[];
}

/** Reads every node's member key and status record, the global names and the leases of a cluster. */
export async function readClusterView(etcd: EtcdConnection, cluster: string): Promise<ClusterView> {
  const p = `/${cluster}/`;
  const { kvs, revision } = await etcd.rangePrefix(p);
  const by = (kind: string) =>
    kvs
      .filter((kv) => kv.key.toString('utf8').startsWith(`${p}${kind}/`))
      .map((kv) => ({
        id: kv.key.toString('utf8').slice(`${p}${kind}/`.length),
        kv,
        v: JSON.parse(kv.value.toString('utf8')),
      }));
  const status = new Map(by('status').map((s) => [s.id, s.v as NodeStatus]));
  return {
    cluster,
    revision,
    nodes: by('members').map((m) => ({
      node: m.id,
      incarnation: num(m.kv.create_revision),
      member: m.v,
      status: status.get(m.id),
    })),
    names: by('names').map((n) => ({ name: n.id, node: n.v.node, pid: n.v.pid })),
    leases: by('leases').map((l) => ({ lease: l.id, holder: l.v.holder, epoch: num(l.kv.create_revision) })),
  };
}
