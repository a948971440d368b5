/**
 * Shared helpers of the bridge tests: a registry per test file (so every worker carries that run's
 * marker), fixture paths, bounded waits, and the /proc scan that proves nothing was left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isExitedState, listProcessIds, readProcCmdline, readProcStat, runMarker } from '@trellis/core';
import { Registry } from '@trellis/registry';
import type { PoolEvent, ToolPool } from '../src/index.js';
import { listSegments, SHM_NAME_PREFIX } from '../src/shm/segments.js';

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));

/** Tools of the Python SDK's own tests (see its docstring). */
export const SDK_TOOLS = here('../../../python-sdk/tests/tools_fixture.py');
/** Tools with file side channels (test/fixtures/bridge_tools.py). */
export const BRIDGE_TOOLS = here('../../test/fixtures/bridge_tools.py');
/** Sessions, host tools, recycling, quarantine, thread profile (test/fixtures/parity_tools.py). */
export const PARITY_TOOLS = here('../../test/fixtures/parity_tools.py');
/** A second tools module (several pools). */
export const OTHER_TOOLS = here('../../test/fixtures/other_tools.py');
export const BROKEN_TOOLS = here('../../test/fixtures/broken_tools.py');
/** A directory whose sitecustomize.py prints to stdout at Python start-up. */
export const GARBAGE_SITE = here('../../test/fixtures/garbage');
export const HOST_FIXTURE = here('./fixtures/host.js');
export const REPO_ROOT = here('../../../../');
export const VENV_PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');

/** Both tool modules: the SDK's fixture tools plus the side-channel ones. */
export const ALL_TOOLS = [SDK_TOOLS, BRIDGE_TOOLS];

export interface TestRun {
  readonly registry: Registry;
  readonly dir: string;
  readonly marker: string;
  /** A fresh path for a side-channel flag file. */
  flag(name?: string): string;
  /** Stops pools still running, checks /proc for leftovers, closes the registry, removes files. */
  close(): Promise<void>;
}

/** Opens a registry in a temp dir (installed as the process tracker) for one test file. */
export async function openTestRun(): Promise<TestRun> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-marker-bridge-'));
  const registry = await Registry.open({ dir, logger: { info() {}, warn() {} } });
  let n = 0;
  return {
    registry,
    dir,
    marker: runMarker(registry.runId),
    flag: (name = 'flag') => join(dir, `${name}-${++n}`),
    async close() {
      // Every pool of the file is stopped by now: its workers must be gone without help (bounded
      // wait for the kernel to reap them). Only then does stopAll clean up, so a leak still fails.
      const deadline = Date.now() + 5000;
      let left = markedProcesses(registry.runId);
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        left = markedProcesses(registry.runId);
      }
      await registry.stopAll({ graceMs: 1000 });
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(left, [], 'Python workers of this test file left running');
    },
  };
}

/** Live (non-zombie) processes whose command line carries the run's marker. */
export function markedProcesses(runId: string): number[] {
  const marker = runMarker(runId);
  const out: number[] = [];
  for (const pid of listProcessIds()) {
    const cmd = readProcCmdline(pid);
    if (!cmd?.includes(marker)) continue;
    const st = readProcStat(pid);
    if (st && !isExitedState(st.state)) out.push(pid);
  }
  return out;
}

export function alive(pid: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && !isExitedState(st.state);
}

/** Bounded polling for a condition the test cannot get an event for (another process's state). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The text of a side-channel flag file, or undefined. */
export function readFlag(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** Waits for a flag file to hold `text`. */
export function waitForFlag(path: string, text: string | RegExp, timeoutMs = 10_000): Promise<void> {
  return waitFor(
    () => {
      const v = readFlag(path);
      return v !== undefined && (typeof text === 'string' ? v === text : text.test(v));
    },
    `${path} to read ${String(text)} (it reads ${JSON.stringify(readFlag(path))})`,
    timeoutMs,
  );
}

/** Resolves with the first event of the pool matching `pred` (bounded). */
export function nextEvent(
  pool: ToolPool,
  pred: (e: PoolEvent) => boolean,
  timeoutMs = 15_000,
): Promise<PoolEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching pool event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = pool.on((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Waits until the pool has `n` ready workers. */
export function waitForReady(pool: ToolPool, n: number, timeoutMs = 15_000): Promise<void> {
  return waitFor(
    () => pool.stats().readyWorkers === n,
    `${n} ready workers (have ${pool.stats().readyWorkers})`,
    timeoutMs,
  );
}

/** Asserts `p` rejects with a TrellisError of `code`; returns the error for further checks. */
export async function rejectsWith<E = Error & { code: string }>(
  p: Promise<unknown>,
  code: string,
): Promise<E> {
  try {
    await p;
  } catch (e) {
    assert.equal(
      (e as { code?: string }).code,
      code,
      `expected ${code}, got ${(e as { code?: string }).code}: ${(e as Error).message}`,
    );
    return e as E;
  }
  assert.fail(`expected a rejection with ${code}, but it resolved`);
}

/**
 * The next run's start (Registry.open on the killed host's registry `dir`) sweeps that host's
 * shared-memory `segments` out of /dev/shm: nobody else is left to remove them.
 */
export async function assertSweepRemovesSegments(dir: string, segments: readonly string[]): Promise<void> {
  const next = await Registry.open({ dir, logger: { info() {}, warn() {} } });
  await next.close();
  assert.deepEqual(
    listSegments(SHM_NAME_PREFIX).filter((n) => segments.includes(n)),
    [],
  );
}

/** How a child process of a test ended, with everything it wrote. */
export interface ChildRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs `cmd args` to its end, collecting stdout and stderr. Bounded: a child still running after
 * `timeoutMs` is killed (SIGKILL, by its PID) and the run ends with that signal, so a hung child
 * fails its test instead of outliving it.
 */
export function runToExit(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 60_000,
): Promise<ChildRun> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((res) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, out, err });
    }),
  );
}
