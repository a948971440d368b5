/**
 * The headless Chromium of the browser tests (Debian's /usr/bin/chromium, driven by playwright-core):
 * launched on a profile directory whose name carries the test marker, closed so that no Chromium
 * process outlives the test, and where a test's screenshot goes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';
import { waitFor } from './helpers.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 900 },
    timeout: 60_000,
  });
}

/** Processes whose command line names the profile directory: the browser and all its helpers. */
export function chromiumProcesses(profile: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (cmd.includes(profile) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** close() normally ends every Chromium process; if it hangs, they are killed by PID. */
export async function closeChromium(browser: BrowserContext, profile: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    browser.close().then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), 15_000);
    }),
  ]).catch(() => false);
  clearTimeout(timer);
  if (!closed) {
    for (const pid of chromiumProcesses(profile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await waitFor(() => chromiumProcesses(profile).length === 0, 'every Chromium process to exit');
}

/**
 * Where a screenshot goes: the tracked picture in docs/ only when TRELLIS_UPDATE_SCREENSHOTS=1 (a
 * deliberate update, to look at and commit), else `dir` (a temporary directory of the test), so a
 * test run never rewrites a tracked file.
 */
export function screenshotPath(name: string, dir: string): string {
  if (process.env.TRELLIS_UPDATE_SCREENSHOTS === '1')
    return fileURLToPath(new URL(`../../../../docs/${name}`, import.meta.url));
  return join(dir, name);
}
