/**
 * Leader-partition trials on a NetnsLab (used by cluster-partition.test.ts with a few trials and
 * by `pnpm bench cluster` with 20): etcd in its own namespace, two or three Trellis nodes each in
 * one, every node running a lease keeper for lease 'jobs'. A trial cuts the current leader's link,
 * waits for the other side to take the lease, heals, and checks:
 *   - the old leader stepped down (its own deadline) BEFORE the new one was granted: no overlap
 *     (both instants on this host's CLOCK_MONOTONIC, printed by the nodes themselves);
 *   - the old leader's fenced write with its old epoch is refused after the heal;
 *   - the partitioned node rejoined the membership as a new incarnation.
 */
import type { LocalEtcd } from '../src/index.js';
import { type Child, Cleanup, waitFor } from './helpers.js';
import { NetnsLab } from './netns.js';

export interface TrialResult {
  readonly trial: number;
  readonly leader: string;
  readonly stepDownAt: number;
  readonly takeoverAt: number;
  /** takeoverAt - stepDownAt: > 0 means no overlap. */
  readonly gapMs: number;
  readonly oldEpoch: number;
  readonly newEpoch: number;
  readonly lateWriteRefused: boolean;
  readonly oldIncarnation: number;
  readonly newIncarnation: number;
}

export interface PartitionLab {
  readonly lab: NetnsLab;
  readonly cleanup: Cleanup;
  readonly nodes: Map<string, Child>;
  readonly etcd: LocalEtcd;
}

let seq = 0;
async function ask(c: Child, cmd: Record<string, unknown>, timeoutMs = 10_000): Promise<any> {
  const id = ++seq;
  const p = c.after((m) => m.id === id, `${String(cmd.op)} answer`, timeoutMs);
  c.send({ ...cmd, id });
  return p;
}

export const LEASE_TTL_MS = 2000;
export const MEMBER_TTL_MS = 1000;

export async function startPartitionLab(nodeNames: readonly string[]): Promise<PartitionLab> {
  const cleanup = new Cleanup();
  const lab = new NetnsLab().create(['etcd', ...nodeNames]);
  cleanup.add(() => lab.destroy());
  try {
    const etcdAddr = lab.member('etcd').addr;
    const etcd = await cleanup.etcd({ host: etcdAddr, port: 2379, wrap: lab.wrap('etcd') });
    const cluster = `p${Date.now()}`;
    const nodes = new Map<string, Child>();
    for (const n of nodeNames) {
      const c = cleanup.child(
        'cluster-node.js',
        [
          JSON.stringify({
            endpoints: etcd.endpoints,
            cluster,
            node: n,
            memberTtlMs: MEMBER_TTL_MS,
            leaseTtlMs: LEASE_TTL_MS,
            listen: `${lab.member(n).addr}:7070`,
          }),
        ],
        {},
        lab.wrap(n),
      );
      await c.next((m) => m.op === 'ready' || m.op === 'start-failed', `${n} ready`, 20_000);
      nodes.set(n, c);
    }
    return { lab, cleanup, nodes, etcd };
  } catch (e) {
    await cleanup.run();
    throw e;
  }
}

async function leaderOf(p: PartitionLab): Promise<{ name: string; status: any }> {
  return waitFor(
    async () => {
      for (const [name, c] of p.nodes) {
        const s = (await ask(c, { op: 'lease-status' })).status;
        if (s.role === 'leader') return { name, status: s };
      }
      return false;
    },
    'a leader',
    20_000,
    100,
  );
}

export async function runTrial(p: PartitionLab, trial: number): Promise<TrialResult> {
  const { name: leader, status } = await leaderOf(p);
  const old = p.nodes.get(leader)!;
  const oldSelf = (await ask(old, { op: 'self' })).self;
  const others = [...p.nodes].filter(([n]) => n !== leader);
  const stepped = old.after(
    (m) => m.op === 'lease' && m.status.role === 'follower',
    `${leader} steps down`,
    15_000,
  );
  const took = Promise.race(
    others.map(([, c]) => c.after((m) => m.op === 'lease' && m.status.role === 'leader', 'takeover', 15_000)),
  );
  p.lab.setLink(leader, false);
  let down: any;
  let up: any;
  try {
    [down, up] = await Promise.all([stepped, took]);
  } finally {
    p.lab.setLink(leader, true);
  }
  // After the heal: the old epoch is fenced off, and the node comes back as a new incarnation.
  // (The first attempts may still fail for the healed link to carry traffic again: retry until etcd answers.)
  const w = await waitFor(
    async () => {
      const r = await ask(old, { op: 'fenced', epoch: status.epoch });
      return r.ok === true || r.code === 'ERR_LEASE_FENCED' ? r : false;
    },
    'an answer to the late write',
    15_000,
    100,
  );
  const rejoined = await waitFor(
    async () => {
      const s = await ask(old, { op: 'self' });
      return s.state === 'up' && s.self.incarnation !== oldSelf.incarnation ? s.self : false;
    },
    `${leader} rejoins`,
    20_000,
    100,
  );
  return {
    trial,
    leader,
    stepDownAt: down.at,
    takeoverAt: up.at,
    gapMs: up.at - down.at,
    oldEpoch: status.epoch,
    newEpoch: up.status.epoch,
    lateWriteRefused: w.ok === false && w.code === 'ERR_LEASE_FENCED',
    oldIncarnation: oldSelf.incarnation,
    newIncarnation: rejoined.incarnation,
  };
}
