/**
 * One node of `pnpm example:cluster` (started by main.ts as its own OS process). argv[2] is JSON
 * { etcd, cluster, node }. The tree:
 *
 *   app                     one_for_one
 *   ├── cluster-node        joins the cluster (first: later children may use global names)
 *   ├── lease-keeper:jobs   leaseKeeperChild on etcd: the leader election
 *   └── work                { via: 'cluster', name: 'work-<node>' }: writes fenced with the epoch
 *
 * Prints one JSON line per event (lease role changes, membership events, fenced writes) for main.ts.
 */

import { currentCluster, EtcdLeaseStore, start } from '@trellis/cluster';
import { defineServer, noreply, type ServerContext, serverChild } from '@trellis/core';
import { fencedWrite, hostMonotonicMs, isLeading, type LeaseStatus, leaseKeeperChild } from '@trellis/health';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { etcd: string[]; cluster: string; node: string };
const print = (o: unknown) =>
  process.stdout.write(`${JSON.stringify({ node: cfg.node, at: hostMonotonicMs(), ...(o as object) })}\n`);
const store = await EtcdLeaseStore.open({ etcd: { endpoints: cfg.etcd }, prefix: `/${cfg.cluster}/` });

interface W {
  n: number;
  timer?: NodeJS.Timeout;
}
const arm = (ctx: ServerContext, s: W) => {
  s.timer = setTimeout(() => ctx.alive && ctx.send(ctx.self, 'tick'), 300);
};
// The leader's work: while the keeper says we lead, write a counter fenced with the epoch.
const work = defineServer<W, []>({
  init(ctx) {
    const s: W = { n: 0 };
    ctx.node.monitor(() => clearTimeout(s.timer), ctx.self);
    arm(ctx, s);
    return s;
  },
  async handleInfo(msg, s, ctx) {
    if (msg !== 'tick') return noreply(s);
    const st = await ctx.call<LeaseStatus>('lease:jobs', { op: 'status' });
    if (isLeading(st) && st.epoch !== null) {
      const epoch = st.epoch;
      await fencedWrite({ store, name: 'jobs' }, epoch, (tx) =>
        tx.put('last', { node: cfg.node, epoch, n: ++s.n }),
      ).then(
        () => s.n % 5 === 1 && print({ op: 'wrote', epoch, n: s.n }),
        (e) => print({ op: 'refused', epoch, code: e.code }),
      );
    }
    arm(ctx, s);
    return noreply(s);
  },
});

await start(
  {
    flags: { strategy: 'one_for_one' },
    children: [
      leaseKeeperChild({
        lease: 'jobs',
        ttlMs: 2000,
        store,
        onChange: (st) =>
          print({ op: 'lease', role: st.role, epoch: st.epoch, currentEpoch: st.currentEpoch }),
      }),
      { id: 'work', start: serverChild(work, { name: { via: 'cluster', name: `work-${cfg.node}` } }) },
    ],
  },
  // insecure: all three nodes run on this machine's loopback; between machines use tls (trellis certs).
  { cluster: { etcd: cfg.etcd, name: cfg.cluster, node: cfg.node, memberTtlMs: 2000, insecure: true } },
);
const c = currentCluster();
c.monitorNode(undefined, (e) => print({ op: e.type, of: e.node, incarnation: e.incarnation }));
print({ op: 'ready', incarnation: c.incarnation, members: c.nodes().map((m) => m.node) });
