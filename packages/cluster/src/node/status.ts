/**
 * The status record each node publishes under `/<cluster>/status/<node>` (on its member lease, so it
 * goes with the node), and the reader behind `trellis status --cluster`.
 *
 * The record is small and generic: identity (host, pid, incarnation, address), the number of local
 * processes, the global names held here, the OS processes this node supervises (its direct children:
 * Python workers, tool servers) and the Trellis runs they belong to, the ToolPools running in this
 * process with their sizes and workers (found by themselves: grpc-bridge keeps the list of running
 * pools), memory, and whatever the app adds with the `status` option. Refreshed every
 * statusIntervalMs, and soon after the node's global names change.
 */
import { hostname } from 'node:os';
import { listProcessIds, readProcCmdline, readProcStat } from '@trellis/core';
import { runningPools } from '@trellis/grpc-bridge';
import type { EtcdConnection } from '../etcd/etcd-connection.js';
import { num } from '../etcd/etcd-connection.js';

export interface ChildProcessInfo {
  readonly pid: number;
  readonly command: string;
  /** The Trellis run the process belongs to (its `--trellis-run-id=` marker), if any. */
  readonly run: string | undefined;
}

/** A ToolPool of the node, as its status record gives it. */
export interface PoolStatus {
  readonly name: string;
  /** The pool's configured number of workers. */
  readonly size: number;
  /** Workers with a live process that take calls, and those running a call now. */
  readonly ready: number;
  readonly busy: number;
  readonly inFlight: number;
  readonly queued: number;
  /** Its Python workers: OS pid and state of each. */
  readonly workers: readonly { readonly slot: number; readonly pid: number; readonly state: string }[];
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
  /** The ToolPools running in this process (absent in records of older nodes). */
  readonly pools?: readonly PoolStatus[];
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

/** The running ToolPools of this process (bounded to 50 pools of 200 workers each). */
export function poolStatuses(): PoolStatus[] {
  const out: PoolStatus[] = [];
  for (const p of runningPools().slice(0, 50)) {
    try {
      const s = p.stats();
      out.push({
        name: p.name,
        size: s.size,
        ready: s.readyWorkers,
        busy: s.busyWorkers,
        inFlight: s.inFlight,
        queued: s.queueDepth,
        workers: s.workers.slice(0, 200).map((w) => ({ slot: w.slot, pid: w.pid, state: w.state })),
      });
    } catch {
      // a pool that stopped between the list and its stats: not running any more
    }
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
    pools: poolStatuses(),
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
