/**
 * The observer's cluster view in a real headless Chromium, against a real etcd: this process is node
 * `alpha` (a ToolPool of two Python workers, a registry run) with the observer; `beta` and `gamma`
 * are other OS processes. The page shows every node from the status records (host, incarnation,
 * state, runs, Python workers, pools and their sizes) with no raw JSON; `gamma` paused (SIGSTOP)
 * shows unreachable, then down when its member lease expires, and stays on the page as down.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { clusterViewSource, currentCluster, LocalEtcd, start } from '@trellis/cluster';
import type { Application } from '@trellis/core';
import { ToolPool } from '@trellis/grpc-bridge';
import { Registry } from '@trellis/registry';
import type { BrowserContext, Page } from 'playwright-core';
import { observerChild } from '../src/index.js';
import { closeChromium, launchChromium, screenshotPath } from './chromium.js';
import { tempDir, waitFor } from './helpers.js';

const PEER = fileURLToPath(new URL('./fixtures/cluster-peer.js', import.meta.url));
const PY_TOOLS = fileURLToPath(
  new URL('../../../grpc-bridge/test/fixtures/bridge_tools.py', import.meta.url),
);
const CLUSTER = `obs${process.pid}`;

const quiet = { info: () => {}, warn: () => {} };
let etcd: LocalEtcd | undefined;
let dir: string;
let profile: string;
let registry: Registry;
let app: Application | undefined;
let browser: BrowserContext | undefined;
let page: Page;
let pool: ToolPool;
const peers: ChildProcess[] = [];
const printed: string[] = [];

/** Another node as its own OS process; resolves with its incarnation once it joined. */
async function peer(node: string, memberTtlMs: number): Promise<{ proc: ChildProcess; incarnation: number }> {
  const opts = { etcd: etcd!.endpoints, name: CLUSTER, node, memberTtlMs, probeIntervalMs: 0 };
  const proc = spawn(process.execPath, [PEER, JSON.stringify(opts), 'trellis-test-marker'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  peers.push(proc);
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', resolve);
    proc.once('exit', (code, signal) => reject(new Error(`peer ${node} exited (${code ?? signal})`)));
  });
  return { proc, incarnation: JSON.parse(line).incarnation };
}

before(async () => {
  dir = tempDir('cluster');
  profile = tempDir('chromium-profile');
  etcd = await LocalEtcd.start({ name: 'trellis-test-marker-etcd' });
  registry = await Registry.open({ dir, logger: quiet, graceMs: 1000 });
  pool = new ToolPool({ tools: PY_TOOLS, size: 2, name: 'py' });
  app = await start(
    {
      children: [
        observerChild({
          cluster: clusterViewSource(),
          pollMs: 200,
          announce: false,
          log: (line) => printed.push(line),
        }),
        pool.childSpec(),
      ],
    },
    {
      handleSignals: false,
      exitProcess: false,
      cluster: {
        etcd: etcd.endpoints,
        name: CLUSTER,
        node: 'alpha',
        insecure: true,
        probeIntervalMs: 300,
        statusIntervalMs: 300,
      },
    },
  );
  browser = await launchChromium(profile);
  page = browser.pages()[0] ?? (await browser.newPage());
});

after(async () => {
  if (browser !== undefined) await closeChromium(browser, profile);
  for (const p of peers) {
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  }
  await Promise.all(
    peers.map((p) =>
      p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)),
    ),
  );
  await app?.stop();
  await registry?.stopAll();
  await registry?.close();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
});

describe('the observer cluster view in Chromium', () => {
  test('every node from the status records; a paused node turns unreachable, then down', async () => {
    const beta = await peer('beta', 3000);
    // gamma's member lease is long enough for the page to show it unreachable before it is down.
    const gamma = await peer('gamma', 5000);
    const url = printed.find((l) => /^trellis observer: http:/.test(l))?.slice('trellis observer: '.length);
    assert.ok(url, printed.join(' | '));
    await page.goto(url);
    const row = (node: string) => page.locator(`#cluster tr[data-node="${node}"]`);
    const cells = async (node: string) =>
      (await row(node).locator('td').allTextContents()).map((s) => s.trim());

    // alpha: this process, its pool of two Python workers, the run of those workers.
    const alpha = currentCluster();
    await waitFor(async () => (await cells('alpha'))[5] === '2', 'alpha with two Python workers');
    const a = await cells('alpha');
    assert.equal(a[0], 'alpha');
    assert.equal(a[1], `${hostname()} (pid ${process.pid})`);
    assert.equal(a[2], String(alpha.incarnation));
    assert.equal(a[3], 'up');
    assert.equal(a[4], registry.runId, 'the run of the Python workers it supervises');
    assert.equal(a[6], 'py 2/2', 'the pool and its size, found without a status hook');
    assert.match(a[7]!, /ago$/);
    // beta and gamma: other processes, no pools.
    for (const [name, p] of [
      ['beta', beta],
      ['gamma', gamma],
    ] as const) {
      await row(name).waitFor();
      const c = await cells(name);
      assert.equal(c[1], `${hostname()} (pid ${p.proc.pid})`);
      assert.equal(c[2], String(p.incarnation));
      assert.equal(c[3], 'up');
      assert.equal(c[5], '0');
      assert.equal(c[6], '–');
    }
    assert.match((await page.locator('#cluster-summary').textContent()) ?? '', /3 nodes: 3 up/);
    assert.doesNotMatch((await page.locator('#cluster-section').textContent()) ?? '', /[{}"]/, 'no raw JSON');

    // gamma paused: alpha's probes fail (unreachable), then etcd expires its member lease (down).
    gamma.proc.kill('SIGSTOP');
    await row('gamma').and(page.locator('[data-state="unreachable"]')).waitFor({ timeout: 10_000 });
    assert.equal((await cells('gamma'))[3], 'unreachable');
    assert.equal((await cells('beta'))[3], 'up');
    await row('gamma').and(page.locator('[data-state="down"]')).waitFor({ timeout: 15_000 });
    const g = await cells('gamma');
    assert.equal(g[3], 'down');
    assert.equal(g[2], String(gamma.incarnation), 'the incarnation that went down');
    assert.match(g[7]!, /^down for /);
    assert.match(
      (await page.locator('#cluster-summary').textContent()) ?? '',
      /3 nodes: 2 up, 0 unreachable, 1 down/,
    );
    await page.screenshot({ path: screenshotPath('observer-cluster.png', dir), fullPage: true });
    gamma.proc.kill('SIGKILL');
  });
});
