/**
 * The page in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
 * against a real tree with the real sources: a registry with a tracked OS process, a task pool,
 * @trellis/health's monitor with a heartbeating worker, and a lease held by a lease keeper.
 *
 * It opens the page, sees the tree, is refused a kill before the token is entered, kills a child
 * with the token and sees it restarted (new pid, restart count 1), sees a worker whose beats stop
 * turn stale, and takes a screenshot: into its temporary directory, or as docs/observer.png with
 * TRELLIS_UPDATE_SCREENSHOTS=1 (a test run never rewrites the tracked picture by itself).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Application,
  call,
  type Pid,
  type ProcessHandle,
  runTask,
  serverChild,
  spawnProcess,
  start,
  supervisorChild,
  taskPoolChild,
  whichChildren,
} from '@trellis/core';
import { ToolPool } from '@trellis/grpc-bridge';
import {
  findHealthMonitor,
  healthMonitorChild,
  LmdbLeaseStore,
  leaseKeeperChild,
  monitoredChild,
} from '@trellis/health';
import { Registry } from '@trellis/registry';
import type { BrowserContext, Page } from 'playwright-core';
import { healthMonitorSource, leaseStoreSource, observerChild, taskPoolSource } from '../src/index.js';
import { closeChromium, launchChromium, screenshotPath } from './chromium.js';
import { beater } from './fixtures/beater.js';
import { idle, SQUARE_TASK, tempDir, waitFor } from './helpers.js';

const PY_TOOLS = fileURLToPath(
  new URL('../../../grpc-bridge/test/fixtures/telemetry_tools.py', import.meta.url),
);

const quiet = { info: () => {}, warn: () => {} };
let dir: string;
let profile: string;
let registry: Registry;
let leases: LmdbLeaseStore;
let sleeper: ProcessHandle;
let app: Application;
let browser: BrowserContext | undefined;
let page: Page;
let pool: ToolPool;
const printed: string[] = [];
let loading = true;
let load: Promise<number> | undefined;

/** Bounded load on the pool: 4 callers in a loop until stopped, at most 60 s and 50,000 calls. */
async function runLoad(): Promise<number> {
  const until = Date.now() + 60_000;
  let n = 0;
  const lane = async (): Promise<void> => {
    while (loading && Date.now() < until && n < 50_000) await pool.call('load', { n: n++ });
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
  return n;
}

async function childPid(sup: Pid | string, id: string): Promise<Pid> {
  const c = (await whichChildren(sup)).find((x) => x.id === id);
  assert.ok(c && typeof c.pid === 'string' && c.pid !== 'restarting', `${id} is running`);
  return c.pid as Pid;
}

before(async () => {
  dir = tempDir('browser');
  // The profile's name carries the test marker, and every Chromium process names its profile.
  profile = tempDir('chromium-profile');
  registry = await Registry.open({ dir, logger: quiet, graceMs: 1000 });
  sleeper = await spawnProcess(
    process.execPath,
    ['-e', 'setInterval(() => {}, 1e9)', 'trellis-test-marker'],
    {
      role: 'tool',
      name: 'sleeper',
    },
  );
  leases = LmdbLeaseStore.open({ dir });
  pool = new ToolPool({ tools: PY_TOOLS, size: 3, name: 'py', heartbeatIntervalMs: 300 });
  app = await start(
    {
      children: [
        observerChild({
          registry,
          // The ToolPool itself is a source: worker rows, charts and the log tail come from it.
          pools: { squares: taskPoolSource('browser-squares'), py: pool },
          health: healthMonitorSource(() => findHealthMonitor()),
          leases: leaseStoreSource(leases),
          pollMs: 200,
          announce: false,
          log: (line) => printed.push(line),
        }),
        healthMonitorChild({ dir, scanIntervalMs: 20, flushIntervalMs: 200 }),
        leaseKeeperChild({ lease: 'leader', ttlMs: 3000, store: leases }),
        { id: 'victim', start: serverChild(idle) },
        {
          id: 'agents',
          type: 'supervisor',
          start: supervisorChild({
            children: [
              monitoredChild(
                { id: 'beater', start: serverChild(beater), args: [50] },
                { intervalMs: 50, staleAfterMs: 400, failAfterMs: 600_000, policy: 'report' },
              ),
              { id: 'planner', start: serverChild(idle) },
            ],
          }),
        },
        {
          id: 'pool',
          start: taskPoolChild({
            filename: SQUARE_TASK,
            name: 'browser-squares',
            minThreads: 1,
            maxThreads: 1,
          }),
        },
        pool.childSpec(),
      ],
    },
    { handleSignals: false, exitProcess: false },
  );
  assert.equal(await runTask('browser-squares', 12), 144);
  load = runLoad();
  browser = await launchChromium(profile);
  page = browser.pages()[0] ?? (await browser.newPage());
});

after(async () => {
  loading = false;
  await load?.catch(() => 0);
  if (browser !== undefined) await closeChromium(browser, profile);
  await app?.stop();
  await leases?.close();
  await registry?.stopAll();
  await registry?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
});

describe('the observer page in Chromium', () => {
  test('shows the tree, refuses control without the token, kills with it and shows the restart, shows a stale actor', async () => {
    const urlLine = printed.find((l) => /^trellis observer: http:\/\/127\.0\.0\.1:\d+\/$/.test(l));
    const tokenLine = printed.find((l) => l.includes('control token '));
    assert.ok(urlLine && tokenLine, `the URL and the token are printed at start-up: ${printed.join(' | ')}`);
    const url = urlLine.slice('trellis observer: '.length);
    const token = /control token (\S+)/.exec(tokenLine)![1]!;

    await page.goto(url);
    const row = (key: string) => page.locator(`tr[data-key="${key}"]`);

    // The tree, as the supervisors have it.
    const victim = await childPid(app.pid, 'victim');
    const agents = await childPid(app.pid, 'agents');
    const beaterPid = await childPid(agents, 'beater');
    await row('root/victim')
      .and(page.locator(`[data-pid="${victim}"]`))
      .waitFor();
    for (const key of [
      'root',
      'root/trellis-observer',
      'root/trellis-health',
      'root/lease-keeper:leader',
      'root/agents',
      'root/agents/beater',
      'root/agents/planner',
      'root/pool',
    ]) {
      await row(key).waitFor();
    }
    assert.equal(await row('root/victim').locator('td.restarts').textContent(), '0');
    assert.equal(await row('root/agents').locator('.kind').textContent(), 'one_for_one');
    assert.match((await page.locator('#conn').textContent()) ?? '', /live/);

    // The sources: the registry's OS process, the pool's counters, the lease, and the health of the beater.
    await page.locator(`#registry tr[data-pid="${sleeper.pid}"]`).waitFor();
    assert.match(
      (await page.locator(`#registry tr[data-pid="${sleeper.pid}"]`).textContent()) ?? '',
      /alive.*tool\/sleeper/,
    );
    await page.locator('[data-pool="squares"]').waitFor();
    assert.match((await page.locator('[data-pool="squares"]').textContent()) ?? '', /completed\s*1/);
    await page.locator('#leases tr[data-lease="leader"]').waitFor();
    const lease = (await page.locator('#leases tr[data-lease="leader"] td').allTextContents()).map((s) =>
      s.trim(),
    );
    assert.equal(lease[0], 'leader');
    assert.match(lease[1]!, new RegExp(`:${process.pid}:`), 'the holder is this process');
    assert.equal(lease[2], '1');
    await row('root/agents/beater').and(page.locator('[data-health="active"]')).waitFor();

    // Kill without the token: refused, and the page says so.
    await row('root/victim').locator('button[data-action="kill"]').click();
    await page.locator('.toast.err', { hasText: 'ERR_OBSERVER_FORBIDDEN' }).waitFor();
    assert.equal(await childPid(app.pid, 'victim'), victim, 'nothing happened');

    // With the token: the supervisor restarts the child, and the page shows the new pid and count.
    await page.locator('#token').fill(token);
    await page.locator('#token-form button[type="submit"]').click();
    await page.locator('#token-state.set').waitFor();
    await row('root/victim').locator('button[data-action="kill"]').click();
    await page.locator('.toast:not(.err)', { hasText: `killed victim ${victim}` }).waitFor();
    await waitFor(async () => {
      const pid = await row('root/victim').getAttribute('data-pid');
      const restarts = await row('root/victim').locator('td.restarts').textContent();
      return pid !== null && pid !== '' && pid !== victim && restarts === '1';
    }, 'the page to show the restarted victim');
    const newPid = await row('root/victim').getAttribute('data-pid');
    assert.equal(newPid, await childPid(app.pid, 'victim'));
    assert.notEqual(newPid, victim);
    await page.locator('#events li[data-type="child_restarted"]', { hasText: 'victim restarted' }).waitFor();

    // The beater's work stops (the process lives on): the monitor sees it stale, the page shows it.
    assert.equal(await call(beaterPid, 'hang'), true);
    await row('root/agents/beater').and(page.locator('[data-health="stale"]')).waitFor({ timeout: 15_000 });
    assert.match((await row('root/agents/beater').getAttribute('class')) ?? '', /row-stale/);
    assert.equal(
      await row('root/agents/beater').getAttribute('data-pid'),
      beaterPid,
      'stale, not restarted (policy report)',
    );
    assert.match((await row('root/agents/beater').locator('td.beat').textContent()) ?? '', /ago$/);

    // The Python workers: a row each (OS pid, state, calls, RSS, CPU...), named in the tree.
    const py = page.locator('[data-pool="py"]');
    await waitFor(async () => (await py.locator('tr[data-worker]').count()) === 3, 'three worker rows');
    const stats = pool.stats();
    for (const w of stats.workers) {
      const cells = (await py.locator(`tr[data-worker="${w.slot}"] td`).allTextContents()).map((x) =>
        x.trim(),
      );
      assert.equal(cells[1], String(w.pid), 'OS pid');
      assert.equal(cells[2], 'ready');
      assert.match(cells[9]!, /^\d+\.\d MB$/, 'RSS');
      assert.match(cells[12]!, /ago$/, 'heartbeat without a health monitor');
      await page.locator(`tr[data-os-pid="${w.pid}"]`).waitFor();
    }
    await page.locator('td strong', { hasText: 'py worker 2' }).waitFor();
    assert.doesNotMatch((await py.textContent()) ?? '', /[{}"]/, 'no raw JSON');
    // A chart drawn with data: several points, and the line's pixels on its canvas.
    await waitFor(
      async () => Number(await py.locator('[data-chart="throughput"]').getAttribute('data-points')) >= 4,
      'throughput history',
    );
    const lit = await py.locator('[data-chart="throughput"] canvas').evaluate((c) => {
      const canvas = c as unknown as {
        width: number;
        height: number;
        getContext(k: string): {
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
      };
      const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      // The series' stroke (#58a6ff): blue well above red.
      for (let i = 0; i < d.length; i += 4) if (d[i + 2]! > 200 && d[i]! < 140 && d[i + 3]! > 0) n++;
      return n;
    });
    assert.ok(lit > 50, `the throughput line is drawn (${lit} pixels)`);
    // The log tail (the token is set): all workers, then one worker's.
    await page
      .locator('#logs li', { hasText: /load step \d+ done/ })
      .first()
      .waitFor();
    // (A click event, not a pointer click: under load the rows are redrawn with each snapshot.)
    await py.locator('tr[data-worker="1"]').dispatchEvent('click');
    await page.locator('#logs-filter', { hasText: 'py worker 1' }).waitFor();
    await page
      .locator('#logs li', { hasText: /load step \d+ done/ })
      .first()
      .waitFor({ timeout: 15_000 });
    const workers = await page
      .locator('#logs li')
      .evaluateAll((lis) => lis.map((l) => l.getAttribute('data-worker')));
    assert.ok(
      workers.length > 0 && workers.every((w) => w === '1'),
      `one worker's tail: ${workers.join(',')}`,
    );

    // The toasts of the control steps are gone (they float over the page), then the picture.
    await waitFor(async () => (await page.locator('.toast').count()) === 0, 'the toasts to expire');
    await page.screenshot({ path: screenshotPath('observer.png', dir), fullPage: true });
  });
});
