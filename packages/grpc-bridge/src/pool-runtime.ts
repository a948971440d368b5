/**
 * The state a ToolPool shares with its workers and calls: options, the dispatcher, counters, events,
 * the tool list, and where each new worker listens. One per ToolPool object; it outlives restarts of
 * the pool's supervisor, so a pool handle keeps working after its parent restarts it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BRIDGE_DEFAULTS } from './defaults.js';
import { Dispatcher } from './dispatcher.js';
import type { Launcher } from './launcher.js';
import { PoolEvents } from './pool-events.js';
import type { NormalizedPoolOptions } from './pool-options.js';
import { PoolCounters } from './pool-stats.js';
import { absoluteToolsRef, type ResolvedPython } from './python.js';
import type { ToolDescription, WorkerLaunchOptions } from './worker-process.js';

export class PoolRuntime {
  readonly o: NormalizedPoolOptions;
  readonly name: string;
  readonly events: PoolEvents;
  readonly counters: PoolCounters;
  readonly dispatcher: Dispatcher;
  python: ResolvedPython | undefined;
  launcher: Launcher | undefined;
  /** Tools by name, from the most recent worker that became ready. */
  tools = new Map<string, ToolDescription>();
  toolNames: string[] = [];
  /** Slots that have had a worker, so a later start of the slot counts as a restart. */
  readonly slotsStarted = new Set<number>();
  /** The last worker start failure, for a precise error when the pool cannot start. */
  lastStartError: unknown;
  #socketDir: string | undefined;
  #workerSeq = 0;
  #launchSeq = 0;
  #callSeq = 0;

  constructor(o: NormalizedPoolOptions) {
    this.o = o;
    this.name = o.name;
    this.events = new PoolEvents(o.name);
    this.counters = new PoolCounters(o.latencyWindow);
    this.dispatcher = new Dispatcher({
      pool: o.name,
      maxQueue: o.maxQueue,
      selector: o.selector,
      clock: o.clock,
      onQueueFull: (tool, depth) => {
        this.counters.queueFull++;
        if (this.events.active)
          this.events.emit({ type: 'queue_full', tool, queueDepth: depth, maxQueue: o.maxQueue });
      },
    });
  }

  nextWorkerId(): number {
    return ++this.#workerSeq;
  }

  nextCallId(): string {
    return `${this.name}-${++this.#callSeq}`;
  }

  setTools(tools: readonly ToolDescription[]): void {
    this.tools = new Map(tools.map((t) => [t.name, t]));
    this.toolNames = [...this.tools.keys()].sort();
  }

  /** A private directory for this run of the pool's sockets (unix transport). */
  openSockets(): void {
    if (this.o.transport !== 'unix' || this.#socketDir !== undefined) return;
    this.#socketDir = mkdtempSync(join(tmpdir(), 'trellis-'));
  }

  closeSockets(): void {
    if (this.#socketDir !== undefined) rmSync(this.#socketDir, { recursive: true, force: true });
    this.#socketDir = undefined;
  }

  /**
   * How to start the worker of `slot`. Each launch gets a socket path of its own: a restarted worker
   * never reuses the path of one that may still be alive.
   */
  launchOptions(slot: number): WorkerLaunchOptions {
    const python = this.python;
    if (python === undefined)
      throw new Error('PoolRuntime.launchOptions before the Python interpreter was resolved');
    let listen = '127.0.0.1:0';
    let socketPath: string | undefined;
    if (this.#socketDir !== undefined) {
      const p = join(this.#socketDir, `w${slot}-${++this.#launchSeq}.sock`);
      // sun_path holds 107 bytes: a long TMPDIR falls back to loopback TCP with a kernel-chosen port.
      if (Buffer.byteLength(p) <= BRIDGE_DEFAULTS.maxSocketPath) {
        listen = `unix:${p}`;
        socketPath = p;
      }
    }
    return {
      python,
      tools: this.o.tools.map((t) => absoluteToolsRef(t, this.o.cwd)),
      listen,
      socketPath,
      concurrency: this.o.concurrency,
      maxMessageBytes: this.o.maxMessageBytes,
      graceMs: BRIDGE_DEFAULTS.cancelGraceMs,
      startTimeoutMs: this.o.startTimeoutMs,
      cwd: this.o.cwd,
      env: { ...process.env, ...this.o.env },
      name: `${this.name}/worker-${slot}`,
      stderrTailBytes: BRIDGE_DEFAULTS.stderrTailBytes,
      maxReadyLineBytes: BRIDGE_DEFAULTS.maxReadyLineBytes,
      onStderr: this.o.onStderr,
      clock: this.o.clock,
      onSpawned: (pid) => {
        if (this.events.active) this.events.emit({ type: 'worker_started', slot, pid });
      },
    };
  }
}
