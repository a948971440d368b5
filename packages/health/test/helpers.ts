/** Shared test helpers: temporary directories, child processes driven by JSON lines, bounded waits. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isExitedState, readProcStat } from '@trellis/core';

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Bounded polling for a condition with no event to wait on (another process's state). */
export async function waitFor<T>(
  probe: () => T | undefined | false,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function alive(pid: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && !isExitedState(st.state);
}

/** A child Node process speaking one JSON object per line on stdout; it exits when its stdin closes. */
export class Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly lines: any[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];

  constructor(script: string, args: readonly string[], env: Record<string, string> = {}) {
    // The marker lets the test runner check that no fixture outlives the tests.
    this.proc = spawn(process.execPath, [fixturePath(script), ...args, 'trellis-test-marker'], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    this.pid = this.proc.pid!;
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let msg: any;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      this.lines.push(msg);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pred(msg)) return true;
        w.resolve(msg);
        return false;
      });
    });
  }

  /** The first line (already received or still to come) matching `pred`. */
  next<T = any>(pred: (m: any) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child ${this.pid}: timed out waiting for ${what}`)),
        timeoutMs,
      );
      this.#waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  send(cmd: Record<string, unknown>): void {
    this.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  kill9(): void {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Closes stdin (the fixture's signal to stop in order) and waits, then SIGKILL as a last resort. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.proc.stdin?.end();
    const t = setTimeout(() => this.kill9(), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Everything a test file started: stopped in `after()` whatever happened. */
export class Cleanup {
  readonly dirs: string[] = [];
  readonly children: Child[] = [];

  dir(): string {
    const d = mkdtempSync(join(tmpdir(), 'trellis-health-test-'));
    this.dirs.push(d);
    return d;
  }

  child(script: string, args: readonly string[], env?: Record<string, string>): Child {
    const c = new Child(script, args, env);
    this.children.push(c);
    return c;
  }

  async run(): Promise<void> {
    for (const c of this.children) c.kill9();
    await Promise.all(this.children.map((c) => c.exited));
    await waitFor(() => this.children.every((c) => !alive(c.pid)), 'fixtures to be gone');
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
