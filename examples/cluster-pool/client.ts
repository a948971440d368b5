/**
 * The client of `pnpm example:cluster-pool` (started by main.ts as its own OS process, inside its
 * own network namespace when the example runs as root). argv[2] is JSON
 * { etcd, cluster, listen, tls: { ca, cert, key } | undefined, ledger, tools }.
 *
 * Its tree is an ordinary Trellis app whose pool has no local workers at all:
 *
 *   app                one_for_one
 *   ├── cluster-node   joins the cluster as node "client" (first: it registers the placement provider)
 *   └── pool           ToolPool, placement { nodes: 'cluster', perNode: 2 }: 2 workers on every agent
 *
 * It runs a stream of calls (lookup: idempotent, charge: not) and prints one JSON line every 250 ms
 * with the pool's size and the calls so far; on stdin `stop` it prints a summary and exits.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { start } from '@trellis/cluster';
import { ToolPool } from '@trellis/grpc-bridge';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  etcd: string[];
  cluster: string;
  listen: string;
  tls?: { ca: string; cert: string; key: string };
  ledger: string;
  tools: string;
};
const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const pool = new ToolPool({
  name: 'example',
  tools: cfg.tools,
  placement: { nodes: 'cluster', perNode: 2 },
  concurrency: 1,
  env: { LEDGER: cfg.ledger },
});
const tls = cfg.tls && {
  ca: readFileSync(cfg.tls.ca),
  cert: readFileSync(cfg.tls.cert),
  key: readFileSync(cfg.tls.key),
};
const app = await start(
  { flags: { strategy: 'one_for_one' }, children: [pool.childSpec()] },
  {
    cluster: {
      etcd: cfg.etcd,
      name: cfg.cluster,
      node: 'client',
      listen: cfg.listen,
      memberTtlMs: 2000,
      ...(tls ? { tls } : { insecure: true as const }),
    },
    exitProcess: false,
  },
);

const perNode = new Map<string, number>();
const failures: { id: number; tool: string; code: string; idempotent: boolean }[] = [];
let ok = 0;
let next = 0;
let running = true;

async function caller(): Promise<void> {
  while (running) {
    const id = next++;
    const tool = id % 2 === 0 ? 'lookup' : 'charge';
    try {
      const r = await pool.call<{ node: string }>(tool, { id });
      ok++;
      perNode.set(r.node, (perNode.get(r.node) ?? 0) + 1);
    } catch (e) {
      failures.push({ id, tool, code: (e as { code?: string }).code ?? '?', idempotent: tool === 'lookup' });
      await new Promise((r) => setTimeout(r, 20)); // a pool with no worker at all fails fast
    }
  }
}

const snapshot = () => {
  const s = pool.stats();
  return {
    size: s.workers.length,
    ready: s.readyWorkers,
    nodes: [...new Set(s.workers.map((w) => w.node))].sort(),
    ok,
    failed: failures.length,
    retried: s.calls.retried,
    perNode: Object.fromEntries(perNode),
  };
};

const callers = Array.from({ length: 4 }, () => caller());
const ticker = setInterval(() => print({ op: 'tick', ...snapshot() }), 250);
print({ op: 'ready', ...snapshot() });

createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line.trim() !== 'stop') return;
  running = false;
  await Promise.all(callers);
  clearInterval(ticker);
  print({ op: 'summary', ...snapshot(), failures });
  await app.stop();
  process.exit(0);
});
