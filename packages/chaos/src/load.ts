/**
 * The steady load: `callers` concurrent loops, each picking an operation at random (from its own
 * seeded stream), running it through the ledger and pausing `paceMs`. Every operation checks its
 * result against a value computed here, so a wrong answer is caught, not only a failure.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { call, runTask, TrellisError } from '@trellis/core';
import type { ToolPool } from '@trellis/grpc-bridge';
import type { LeaderReply } from './actors/leader-work.js';
import { workHash } from './actors/work-hash.js';
import { CHAOS_DEFAULTS } from './defaults.js';
import type { CallLedger } from './ledger.js';
import { Prng } from './prng.js';
import { NAMES } from './tree.js';

export interface LoadTargets {
  readonly poolA: ToolPool;
  readonly poolB: ToolPool;
  /** Called with every leader reply (the lease checks look at the epochs). */
  readonly onLeader: (r: LeaderReply) => void;
}

interface Op {
  readonly name: string;
  readonly weight: number;
  readonly run: (rng: Prng, ledger: CallLedger, t: LoadTargets) => Promise<unknown>;
}

const POOL_T = CHAOS_DEFAULTS.poolCallTimeoutMs;
const ACTOR_T = CHAOS_DEFAULTS.actorCallTimeoutMs;
const TASK_T = CHAOS_DEFAULTS.taskTimeoutMs;

const same = (expected: unknown) => (v: unknown) =>
  isDeepStrictEqual(v, expected)
    ? undefined
    : `expected ${JSON.stringify(expected)}, got ${JSON.stringify(v)?.slice(0, 200)}`;

function sumSquares(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += i * i;
  return s % 1_000_003;
}

function ascii(rng: Prng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(32, 127));
  return s;
}

/** A call to a random kv server about one of 200 keys (weight 2): put and get differ in request and check. */
function kvOp<T>(
  op: 'put' | 'get',
  request: (rng: Prng, key: string) => unknown,
  check: (v: T) => string | undefined,
): Op {
  const name = `kv.${op}`;
  return {
    name,
    weight: 2,
    run: (rng, l) => {
      const k = NAMES.kv[rng.int(0, NAMES.kv.length)]!;
      const key = `k${rng.int(0, 200)}`;
      return l.run(name, ACTOR_T, () => call<T>(k, request(rng, key), ACTOR_T), check);
    },
  };
}

export const OPS: readonly Op[] = [
  {
    name: 'pool-a.echo',
    weight: 2,
    run: (rng, l, t) => {
      const value = { i: rng.int(0, 1e6), s: ascii(rng, rng.int(0, 64)), list: [1, 2, 3] };
      return l.run('pool-a.echo', POOL_T, () => t.poolA.call('echo', { value }), same(value));
    },
  },
  {
    name: 'pool-a.add',
    weight: 2,
    run: (rng, l, t) => {
      const a = rng.int(-1e9, 1e9);
      const b = rng.int(-1e9, 1e9);
      return l.run('pool-a.add', POOL_T, () => t.poolA.call('add', { a, b }), same(a + b));
    },
  },
  {
    name: 'pool-a.work',
    weight: 1,
    run: (rng, l, t) => {
      const n = rng.int(500, 3000);
      return l.run('pool-a.work', POOL_T, () => t.poolA.call('work', { n }), same(sumSquares(n)));
    },
  },
  {
    // Keeps one `sleep` child in the worker's process group: harmless while the host lives (the
    // bridge kills a dead worker's whole group), an orphan for the sweep once the host is killed.
    name: 'pool-a.ensure_helper',
    weight: 0.5,
    run: (_rng, l, t) =>
      l.run(
        'pool-a.ensure_helper',
        POOL_T,
        () => t.poolA.call<number>('ensure_helper', {}),
        (v) => (Number.isInteger(v) && v > 0 ? undefined : `helper pid ${JSON.stringify(v)}`),
      ),
  },
  {
    name: 'pool-b.upper',
    weight: 2,
    run: (rng, l, t) => {
      const text = ascii(rng, rng.int(0, 200));
      return l.run('pool-b.upper', POOL_T, () => t.poolB.call('upper', { text }), same(text.toUpperCase()));
    },
  },
  {
    name: 'pool-b.mean',
    weight: 1,
    run: (rng, l, t) => {
      const values = Array.from({ length: rng.int(1, 20) }, () => rng.int(-1000, 1000));
      const m = values.reduce((a, b) => a + b, 0) / values.length;
      return l.run(
        'pool-b.mean',
        POOL_T,
        () => t.poolB.call<number>('mean', { values }),
        (v) => (Math.abs(v - m) < 1e-9 ? undefined : `mean ${v} != ${m}`),
      );
    },
  },
  {
    name: 'pool-b.digest',
    weight: 1,
    run: (rng, l, t) => {
      const data = rng.bytes(rng.int(1, 2048));
      const hex = createHash('sha256').update(data).digest('hex');
      return l.run('pool-b.digest', POOL_T, () => t.poolB.call('digest', data), same(hex));
    },
  },
  {
    // 1-3 MiB: over the lane's shared-memory threshold, so the bytes go through /dev/shm.
    name: 'pool-b.digest_large',
    weight: 1,
    run: (rng, l, t) => {
      const data = Buffer.alloc(rng.int(1024 * 1024, 3 * 1024 * 1024), rng.int(0, 255));
      for (let i = 0; i < 64; i++) data[rng.int(0, data.length - 1)] = rng.int(0, 255);
      const hex = createHash('sha256').update(data).digest('hex');
      return l.run('pool-b.digest_large', POOL_T, () => t.poolB.call('digest', data), same(hex));
    },
  },
  {
    name: 'pool-b.blob',
    weight: 1,
    run: (rng, l, t) => {
      const n = rng.int(1024 * 1024, 3 * 1024 * 1024);
      const fill = rng.int(0, 255);
      return l.run(
        'pool-b.blob',
        POOL_T,
        () => t.poolB.call<Buffer>('blob', { n, fill }),
        (b) =>
          b.length === n && b[0] === fill && b[n - 1] === fill
            ? undefined
            : `blob of ${b.length} bytes, not ${n} x ${fill}`,
      );
    },
  },
  {
    name: 'pool-b.slow_echo',
    weight: 1,
    run: (rng, l, t) => {
      const value = rng.int(0, 1e6);
      return l.run(
        'pool-b.slow_echo',
        POOL_T,
        () => t.poolB.call('slow_echo', { value, ms: 5 }),
        same(value),
      );
    },
  },
  {
    name: 'thread.work',
    weight: 3,
    run: (rng, l) => {
      const index = rng.int(0, NAMES.threads.length);
      const n = rng.int(100, 2000);
      return l.run(
        'thread.work',
        ACTOR_T,
        () => call<{ index: number; h: number }>(NAMES.threads[index]!, { op: 'work', n }, ACTOR_T),
        (v) => (v.index === index && v.h === workHash(n) ? undefined : `thread reply ${JSON.stringify(v)}`),
      );
    },
  },
  kvOp<number>(
    'put',
    (rng, key) => ({ op: 'put', key, value: rng.int(0, 1e6) }),
    (v) => (Number.isInteger(v) && v >= 1 ? undefined : `put answered ${JSON.stringify(v)}`),
  ),
  kvOp<number | null>(
    'get',
    (_rng, key) => ({ op: 'get', key }),
    (v) => (v === null || Number.isInteger(v) ? undefined : `get answered ${JSON.stringify(v)}`),
  ),
  {
    name: 'task.hash',
    weight: 2,
    run: (rng, l) => {
      const n = rng.int(100, 3000);
      return l.run(
        'task.hash',
        TASK_T,
        () => runTask<number>(NAMES.tasks, { op: 'hash', n }, { timeoutMs: TASK_T }),
        same(workHash(n)),
      );
    },
  },
  {
    name: 'leader.status',
    weight: 1,
    run: (_rng, l, t) =>
      l.run('leader.status', ACTOR_T, async () => {
        const r = await call<LeaderReply>(NAMES.leader, { op: 'status' }, ACTOR_T);
        t.onLeader(r);
        // A refused fenced write is a clean failure of this call (the lease moved), not a crash.
        if (r.refused !== undefined) throw new TrellisError(r.refused, `leader write refused: ${r.refused}`);
        return r;
      }),
  },
];

/** Runs the load until `stop()`; resolves once every caller has finished its current call. */
export class Load {
  readonly #callers: Promise<void>[] = [];
  #stopped = false;

  constructor(
    seed: number,
    run: string,
    callers: number,
    ledger: CallLedger,
    targets: LoadTargets,
    paceMs: number,
  ) {
    const weighted = OPS.map((op) => [op, op.weight] as const);
    for (let c = 0; c < callers; c++) {
      const rng = Prng.derive(seed, `load:${run}:${c}`);
      this.#callers.push(
        (async () => {
          while (!this.#stopped) {
            await rng.weighted(weighted).run(rng, ledger, targets);
            if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#callers);
  }
}
