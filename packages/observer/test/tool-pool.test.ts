/**
 * The observer with a real gRPC ToolPool of Python workers passed directly as a pool source: the
 * Prometheus `/metrics` endpoint (series and labels), the worker rows and tree labels of the
 * snapshot (with heartbeats, no health monitor wired), the snapshot without command lines, the log
 * tail behind a token, and `trellis status` / `trellis logs` finding the observer by themselves.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { type Application, call, type Pid, start, whichChildren } from '@trellis/core';
import { ToolPool } from '@trellis/grpc-bridge';
import { Registry } from '@trellis/registry';
import { logsMain, observerChild, type Snapshot, statusMain } from '../src/index.js';
import { http, tempDir, waitFor } from './helpers.js';

const TOOLS = fileURLToPath(
  new URL('../../../grpc-bridge/test/fixtures/telemetry_tools.py', import.meta.url),
);

// The app's TracerProvider (in memory here): the observer's restart spans go wherever it sends spans.
const spans = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
let dir: string;
let runtime: string;
let registry: Registry;
let pool: ToolPool;
let app: Application;
let url: string;
let token: string;
const savedRuntime = process.env.XDG_RUNTIME_DIR;

before(async () => {
  dir = tempDir('pool');
  runtime = tempDir('runtime');
  // Where this user's announce files go (observers write there, the CLIs look there).
  process.env.XDG_RUNTIME_DIR = runtime;
  trace.setGlobalTracerProvider(tracerProvider);
  registry = await Registry.open({ dir, logger: { info() {}, warn() {} } });
  pool = new ToolPool({ tools: TOOLS, size: 2, name: 'py', heartbeatIntervalMs: 200 });
  app = await start(
    {
      flags: { strategy: 'one_for_one', intensity: 5, periodMs: 10_000 },
      children: [
        // The ToolPool itself is the source: no adapter, no health monitor.
        observerChild({ pools: { py: pool }, registry, log: false, pollMs: 100 }),
        pool.childSpec(),
      ],
    },
    { handleSignals: false, exitProcess: false },
  );
  const o = (await whichChildren(app.pid)).find((c) => c.id === 'trellis-observer');
  const i = (await call(o!.pid as Pid, 'info')) as { url: string; token: string };
  url = i.url;
  token = i.token;
});

after(async () => {
  await app?.stop();
  await registry?.stopAll({ graceMs: 1000 });
  await registry?.close();
  if (savedRuntime === undefined) delete process.env.XDG_RUNTIME_DIR;
  else process.env.XDG_RUNTIME_DIR = savedRuntime;
  rmSync(dir, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
  await tracerProvider.shutdown();
});

async function snapshot(): Promise<Snapshot> {
  return (await http(`${url}api/snapshot?events=50`)).body as Snapshot;
}

test('/metrics has the pool, worker and supervisor series with their labels', async () => {
  for (let i = 0; i < 5; i++) await pool.call('chatty', { n: i });
  await assert.rejects(pool.call('crash'), { code: 'ERR_WORKER_EXITED' });
  await waitFor(async () => (await snapshot()).pools?.[0]?.tool?.restarts === 1, 'the worker restarted');
  const text = await waitFor(async () => {
    const r = await http(`${url}metrics`);
    return r.status === 200 && /trellis_worker_cpu_time/.test(r.body) ? (r.body as string) : undefined;
  }, 'a scrape with worker CPU');
  const has = (re: RegExp, what: string) => assert.match(text, re, what);
  has(
    /trellis_tool_duration_count\{[^}]*trellis_pool="py"[^}]*trellis_tool="chatty"[^}]*outcome="ok"[^}]*\} 5/,
    'ok calls by tool',
  );
  has(/trellis_tool_duration_count\{[^}]*trellis_tool="crash"[^}]*outcome="error"[^}]*\} 1/, 'failed calls');
  has(
    /trellis_tool_errors_total\{[^}]*trellis_tool="crash"[^}]*code="ERR_WORKER_EXITED"[^}]*\} 1/,
    'errors by code',
  );
  has(
    /# UNIT trellis_tool_duration s\n# TYPE trellis_tool_duration histogram/,
    'latency histogram in seconds',
  );
  has(/trellis_tool_duration_bucket\{[^}]*trellis_tool="chatty"[^}]*le="30"\} 5/, 'latency buckets');
  has(/trellis_pool_queue_depth\{[^}]*trellis_pool="py"[^}]*\} 0/, 'queue depth');
  has(/trellis_pool_in_flight\{[^}]*trellis_pool="py"[^}]*\} 0/, 'in flight');
  has(
    /trellis_worker_memory_rss\{[^}]*trellis_worker="1"[^}]*trellis_worker_pid="\d+"[^}]*\} \d{6,}/,
    'worker RSS',
  );
  has(/trellis_worker_cpu_time_total\{[^}]*trellis_worker="0"/, 'worker CPU');
  has(/trellis_pool_worker_restarts_total\{[^}]*trellis_pool="py"[^}]*\} 1/, 'restarts');
  const poolSup = String(pool.pid);
  has(
    new RegExp(`trellis_supervisor_restarts_total\\{supervisor="${poolSup}",child="[^"]+"[^}]*\\} 1`),
    'supervisor restarts',
  );
  // One restart within the pool supervisor's period, out of its intensity (restartIntensity).
  has(
    new RegExp(`trellis_supervisor_intensity\\{supervisor="${poolSup}"[^}]*\\} 0\\.\\d+`),
    'supervisor intensity',
  );
  // The restart as a trace (recorded by core, served with the observer's provider): a span from the
  // exit to the restart, with both as span events.
  const restart = spans.getFinishedSpans().find((x) => x.name === 'supervisor restart');
  assert.ok(restart, 'a supervisor restart span');
  assert.equal(restart.attributes['trellis.supervisor.pid'], poolSup);
  const [exited, restarted] = restart.events;
  assert.equal(exited?.name, 'trellis.supervisor.child_exited');
  assert.match(String(exited?.attributes?.['trellis.exit.reason']), /ERR_WORKER_EXITED|exited with code 3/);
  assert.equal(restarted?.name, 'trellis.supervisor.child_restarted');
  assert.equal(restarted?.attributes?.['trellis.restart.count'], 1);
});

test('a row per Python worker, workers named in the tree with OS pid and heartbeat, no command lines', async () => {
  const s = await waitFor(async () => {
    const x = await snapshot();
    const t = x.pools?.[0]?.tool;
    return t?.workers.length === 2 &&
      t.workers.every((w) => w.cpuPercent !== null && w.lastHeartbeatAt !== null)
      ? x
      : undefined;
  }, 'two worker rows with CPU and a heartbeat');
  const t = s.pools![0]!.tool!;
  const stats = pool.stats();
  for (const w of t.workers) {
    const real = stats.workers.find((x) => x.slot === w.slot)!;
    assert.equal(w.pid, real.pid, 'OS pid');
    assert.equal(w.state, 'ready');
    assert.ok(w.rssBytes! > 1_000_000, 'RSS');
    assert.ok(w.lastHeartbeatAt! > 0, 'heartbeat');
  }
  assert.ok(
    t.workers.some((w) => w.restarts === 1 && /exited with code 3/.test(w.lastExit ?? '')),
    'last exit',
  );
  assert.ok(t.series.length >= 1, 'chart history');
  const names: string[] = [];
  (function walk(n: NonNullable<Snapshot['tree']>) {
    if (n.label) {
      names.push(n.label);
      assert.ok(n.osPid! > 0, 'OS pid in the tree');
      assert.equal(n.health?.state, 'active', 'heartbeat without a health monitor');
      assert.ok((n.health?.lastHeartbeatAt ?? 0) > 0);
    }
    for (const c of n.children ?? []) walk(c);
  })(s.tree!);
  assert.deepEqual(names.sort(), ['py worker 0', 'py worker 1']);
  const items = s.registry!.items;
  assert.ok(items.length >= 2, 'the workers are registry processes');
  for (const p of items) {
    assert.equal(p.args, undefined, 'no arguments in the snapshot');
    assert.ok(!p.command.includes('/'), `no path in the snapshot: ${p.command}`);
  }
});

test('the log tail needs a token; trellis status and trellis logs find the observer by themselves', async () => {
  await pool.call('chatty', { n: 42 });
  assert.equal((await http(`${url}api/logs`)).status, 403, 'no token, no logs');
  const logs = await waitFor(async () => {
    const r = await http(`${url}api/logs?pool=py`, { headers: { 'x-trellis-token': token } });
    return r.body.records?.some((x: { msg: string }) => x.msg === 'processing 42 items') ? r.body : undefined;
  }, 'the record in the tail');
  const rec = logs.records.find((x: { msg: string }) => x.msg === 'processing 42 items');
  assert.equal(rec.tool, 'chatty');
  assert.equal(rec.level, 'info');

  // From another directory, with no Trellis home set: found through this user's runtime directory.
  const env = { XDG_RUNTIME_DIR: runtime };
  let text = '';
  const io = {
    stdout: { write: (s: string) => (text += s) },
    stderr: { write: (s: string) => (text += s) },
    env,
    cwd: runtime,
  };
  assert.equal(await statusMain([], io), 0, text);
  assert.match(text, /py {2}running {2}2\/2 ready/);
  assert.match(
    text,
    /worker +pid +state +uptime +in-flight +calls +errors +p50 +p99 +rss +cpu +restarts +last exit/,
  );
  const pid0 = pool.stats().workers[0]!.pid;
  assert.match(text, new RegExp(`\\n +0 +${pid0} +ready `));
  assert.match(text, /py worker 0 +<[\d.]+> +worker +running +os pid \d+/);

  text = '';
  assert.equal(await logsMain(['py', '--lines', '500'], io), 0, text);
  assert.match(text, /INFO +py\/\d \d+ \[chatty py-\d+\] processing 42 items/);
  assert.match(text, /plain stderr line 42/);

  // Follow: once the tail is printed, a record made afterwards is printed too; then it is ended.
  text = '';
  const ac = new AbortController();
  const following = logsMain(['py', '-f', '--lines', '500'], { ...io, signal: ac.signal });
  await waitFor(() => /processing 42 items/.test(text), 'the tail printed');
  assert.doesNotMatch(text, /processing 77 items/);
  await pool.call('chatty', { n: 77 });
  await waitFor(() => /processing 77 items/.test(text), 'the followed record');
  ac.abort();
  assert.equal(await following, 0);
});
