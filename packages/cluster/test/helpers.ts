/** Shared test helpers: a real etcd per test file, child processes driven by JSON lines, bounded waits. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LocalEtcd, type LocalEtcdOptions } from '../src/index.js';

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Bounded polling for a condition with no event to wait on (another process's state). */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A child Node process speaking one JSON object per line on stdout; it exits when its stdin closes. */
export class Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly lines: any[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];

  constructor(
    script: string,
    args: readonly string[],
    env: Record<string, string> = {},
    wrap: readonly string[] = [],
  ) {
    // The marker lets the test runner check that no fixture outlives the tests.
    const argv = [...wrap, process.execPath, fixturePath(script), ...args, 'trellis-test-marker'];
    this.proc = spawn(argv[0] as string, argv.slice(1), {
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
    return this.after(pred, what, timeoutMs);
  }

  /** The first line from now on matching `pred`. */
  after<T = any>(pred: (m: any) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
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
      this.proc.kill('SIGKILL');
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
  readonly children: Child[] = [];
  readonly etcds: LocalEtcd[] = [];
  readonly fns: (() => unknown)[] = [];

  async etcd(o: LocalEtcdOptions = {}): Promise<LocalEtcd> {
    const e = await LocalEtcd.start({ name: 'trellis-test-marker-etcd', ...o });
    this.etcds.push(e);
    return e;
  }

  child(
    script: string,
    args: readonly string[],
    env?: Record<string, string>,
    wrap?: readonly string[],
  ): Child {
    const c = new Child(script, args, env, wrap);
    this.children.push(c);
    return c;
  }

  add(fn: () => unknown): void {
    this.fns.push(fn);
  }

  /** Kills the child processes first, then runs the added functions (newest first), then stops etcd. */
  async run(): Promise<void> {
    for (const c of this.children) c.kill9();
    await Promise.all(this.children.map((c) => c.exited));
    for (const fn of this.fns.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning
      }
    }
    for (const e of this.etcds.splice(0)) await e.stop();
  }
}
