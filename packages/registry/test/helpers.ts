/** Shared test helpers: temporary registry directories, the host fixture, /proc checks and cleanup. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  isExitedState,
  listProcessIds,
  RUN_ID_ENV,
  readProcCmdline,
  readProcEnvironValue,
  readProcStat,
} from '@trellis/core';
import type { RegistryLogger } from '../src/index.js';

export const HOST_FIXTURE = fileURLToPath(new URL('./fixtures/host.js', import.meta.url));
export const NODE_IGNORE_TERM = fileURLToPath(new URL('./fixtures/ignore-term.js', import.meta.url));
export const PY_IGNORE_TERM = fileURLToPath(new URL('../../test/fixtures/ignore_term.py', import.meta.url));
export const CLI = fileURLToPath(new URL('../../../../scripts/trellis-cli.mjs', import.meta.url));
const VENV_PY = fileURLToPath(new URL('../../../../.venv/bin/python', import.meta.url));

/** The project's virtualenv Python, else the real interpreter behind `python3` (not a shim script). */
export const PYTHON = existsSync(VENV_PY)
  ? VENV_PY
  : spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();

/** A bash child whose two grandchildren (renamed `sleep`s) live in its process group. */
export const SHELL_TREE = [
  '-c',
  '(exec -a trellis-test-marker-sleep sleep 300) & (exec -a trellis-test-marker-sleep sleep 300) & wait',
  'trellis-test-marker',
];

/** Bounded polling for a condition the test cannot get an event for (another process's state). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Everything a test file started, stopped by PID/group in `after()` whatever happened. */
export class Cleanup {
  readonly dirs: string[] = [];
  readonly groups = new Set<number>();
  readonly pids = new Set<number>();

  /** A fresh registry directory; its name carries the test marker, so CLI runs carry it too. */
  dir(): string {
    const d = mkdtempSync(join(tmpdir(), 'trellis-test-marker-registry-'));
    this.dirs.push(d);
    return d;
  }

  async run(): Promise<void> {
    for (const g of this.groups) kill(-g, 'SIGKILL');
    for (const p of this.pids) kill(p, 'SIGKILL');
    await waitFor(
      () =>
        [...this.groups].every((g) => groupMembers(g).length === 0) && [...this.pids].every((p) => !alive(p)),
      'cleanup',
    );
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function alive(pid: number, startTime?: number): boolean {
  const st = readProcStat(pid);
  return (
    st !== undefined && !isExitedState(st.state) && (startTime === undefined || st.startTime === startTime)
  );
}

/** Live members of a process group. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const pid of listProcessIds()) {
    const st = readProcStat(pid);
    if (st && st.pgid === pgid && !isExitedState(st.state)) out.push(pid);
  }
  return out;
}

/** Live processes whose command line contains `needle` or whose TRELLIS_RUN_ID equals `runId`. */
export function carriers(needle: string, runId?: string): number[] {
  const out: number[] = [];
  for (const pid of listProcessIds()) {
    if (pid === process.pid) continue;
    const st = readProcStat(pid);
    if (!st || isExitedState(st.state)) continue;
    const cmd = readProcCmdline(pid)?.join(' ') ?? '';
    if (cmd.includes(needle) || (runId !== undefined && readProcEnvironValue(pid, RUN_ID_ENV) === runId))
      out.push(pid);
  }
  return out;
}

/** Live processes whose argv[0] is exactly `name` (e.g. a process renamed with `exec -a`). */
export function byArgv0(name: string): number[] {
  return listProcessIds().filter((pid) => readProcCmdline(pid)?.[0] === name && alive(pid));
}

/**
 * Whether the process has SIGTERM ignored or caught (so the test knows its handler is installed).
 * Not for Node processes: Node catches SIGTERM from startup; use the fixture's --ready-file instead.
 */
export function handlesSigterm(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false;
  }
  const bit = 1n << 14n; // SIGTERM is 15: bit 14 of the masks
  for (const field of ['SigIgn', 'SigCgt']) {
    const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    if (m && (BigInt(`0x${m[1]}`) & bit) !== 0n) return true;
  }
  return false;
}

export interface LogEntry {
  level: 'info' | 'warn';
  message: string;
}

/** A logger that keeps what it was told. */
export function memoryLogger(): RegistryLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (message) => entries.push({ level: 'info', message }),
    warn: (message) => entries.push({ level: 'warn', message }),
  };
}

export interface Reply {
  ok: boolean;
  result?: any;
  error?: string;
}

/** A running host fixture: a separate Node process with its own Registry. */
export class Host {
  readonly child: ChildProcess;
  runId = '';
  marker = '';
  bootSweep: any;
  #seq = 0;
  #waiting = new Map<number, (r: Reply) => void>();
  #ready: Promise<void>;
  readonly exited: Promise<void>;

  /** `peerCheckMs`: the host's periodic check for dead peers (its default when omitted; 0 turns it off). */
  constructor(dir: string, cleanup: Cleanup, graceMs = 300, peerCheckMs?: number) {
    const argv = [HOST_FIXTURE, dir, String(graceMs), 'trellis-test-marker'];
    if (peerCheckMs !== undefined) argv.push(`--peer-check-ms=${peerCheckMs}`);
    this.child = spawn(process.execPath, argv, {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    cleanup.pids.add(this.child.pid!);
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
    this.#ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('host fixture did not become ready')), 20_000);
      createInterface({ input: this.child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line);
        if (msg.op === 'ready') {
          clearTimeout(timer);
          this.runId = msg.runId;
          this.marker = msg.marker;
          this.bootSweep = msg.bootSweep;
          resolve();
        } else this.#waiting.get(msg.id)?.(msg);
      });
    });
  }

  static async start(dir: string, cleanup: Cleanup, graceMs = 300, peerCheckMs?: number): Promise<Host> {
    const h = new Host(dir, cleanup, graceMs, peerCheckMs);
    await h.#ready;
    return h;
  }

  async send(cmd: Record<string, unknown>): Promise<any> {
    const id = ++this.#seq;
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`host did not answer ${JSON.stringify(cmd)}`)), 30_000);
      this.#waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    this.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    const r = await reply;
    if (!r.ok) throw new Error(`host: ${r.error}`);
    return r.result;
  }

  /** Spawns a child through the host's spawnProcess; its group is registered for cleanup. */
  async spawn(cleanup: Cleanup, command: string, args: string[], name = 'child'): Promise<any> {
    const r = await this.send({ op: 'spawn', command, args, role: 'test', name });
    cleanup.groups.add(r.pgid);
    return r;
  }

  /** The crash: SIGKILL, no chance to clean up. */
  async crash(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Orderly end: closing stdin makes the host stop its children and exit. */
  async end(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

/** Asserts that no live process carries any of the markers (the end-of-file leak check). */
export function assertNoneLeft(markers: readonly string[]): void {
  const left = markers.flatMap((m) => carriers(m));
  assert.deepEqual(
    left.map((pid) => `${pid} ${readProcCmdline(pid)?.join(' ')}`),
    [],
    'processes carrying this file’s markers are left',
  );
}
