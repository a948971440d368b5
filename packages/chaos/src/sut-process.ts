/**
 * The driver's handle on one system-under-test process (sut.js): starts it with its configuration,
 * collects everything it reports, and can kill it with SIGKILL at any moment. Its stdout and stderr
 * go to a log file (Python worker logs included), named in the report.
 *
 * Run as root, it starts the process without CAP_SYS_PTRACE (setpriv drops it from the bounding set,
 * so the exec'd node has it in no set), as the host of any ordinary user runs: with it, the kernel
 * lets the host open every worker's /proc/<pid>/fd, and the worker-nondumpable fault would prove
 * nothing. Without root there is nothing to drop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import type { ExitRecord, FaultRecord, RecycleRecord, RestartRecord } from './fault-book.js';
import {
  type LeaderObservation,
  type SutConfig,
  type SutFinal,
  type SutMessage,
  sutEnv,
  type Termination,
} from './ipc.js';
import type { LedgerSnapshot } from './ledger.js';
import type { ResourceSample } from './sampler.js';

const SUT_ENTRY = new URL('./sut.js', import.meta.url);
const SETPRIV = '/usr/bin/setpriv';

/** fork's options that start the node process without CAP_SYS_PTRACE (root with setpriv only). */
function withoutPtrace(): { execPath: string; execArgv: string[] } | undefined {
  if (process.getuid?.() !== 0 || !existsSync(SETPRIV)) return undefined;
  // fork runs `execPath ...execArgv <module>`: setpriv execs node in its own place (same pid), and
  // the IPC channel (fd 3, NODE_CHANNEL_FD) passes through.
  return {
    execPath: SETPRIV,
    execArgv: ['--bounding-set=-sys_ptrace', process.execPath, ...process.execArgv],
  };
}

/** The SUT's ready message, without its tag. */
export type SutReady = Omit<Extract<SutMessage, { t: 'ready' }>, 't' | 'run'>;

export class SutProcess {
  readonly run: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  /** By schedule index: a pending record is replaced by its final one. */
  readonly #faults = new Map<number, FaultRecord>();
  readonly exits: ExitRecord[] = [];
  readonly restarts: RestartRecord[] = [];
  readonly recycles: RecycleRecord[] = [];
  readonly samples: ResourceSample[] = [];
  ledger: LedgerSnapshot | undefined;
  leader: LeaderObservation | undefined;
  ready: SutReady | undefined;
  final: SutFinal | undefined;
  stopMs: number | undefined;
  terminations: readonly Termination[] | undefined;
  /** Run offset of the last report received. */
  lastReportAtMs = 0;
  killedAtMs: number | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #readyWaiters: ((r: SutReady | undefined) => void)[] = [];

  constructor(cfg: SutConfig, home: string, logPath: string) {
    this.run = cfg.run;
    this.logPath = logPath;
    const log = openSync(logPath, 'w');
    this.child = fork(SUT_ENTRY, [], {
      env: sutEnv(cfg, home),
      stdio: ['ignore', log, log, 'ipc'],
      ...withoutPtrace(),
    });
    closeSync(log);
    this.child.on('message', (m: SutMessage) => this.#onMessage(m));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        for (const w of this.#readyWaiters.splice(0)) w(undefined);
        resolve({ code, signal });
      }),
    );
  }

  /** The faults this process injected, each in its latest known state. */
  get faults(): FaultRecord[] {
    return [...this.#faults.values()].sort((a, b) => a.index - b.index);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves when the process reports ready, or with undefined if it exits first or `ms` pass. */
  waitReady(ms: number): Promise<SutReady | undefined> {
    if (this.ready !== undefined) return Promise.resolve(this.ready);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(undefined), ms);
      this.#readyWaiters.push((r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
  }

  /** kill -9 of the whole host process. */
  kill9(atMs: number): void {
    this.killedAtMs = atMs;
    this.child.kill('SIGKILL');
  }

  #onMessage(m: SutMessage): void {
    switch (m.t) {
      case 'ready':
        this.ready = m;
        for (const w of this.#readyWaiters.splice(0)) w(m);
        return;
      case 'report':
        this.lastReportAtMs = m.atMs;
        this.ledger = m.ledger;
        this.leader = m.leader;
        for (const f of m.observed.faults) this.#faults.set(f.index, f);
        this.exits.push(...m.observed.exits);
        this.restarts.push(...m.observed.restarts);
        this.recycles.push(...m.observed.recycles);
        this.samples.push(...m.observed.samples);
        return;
      case 'final':
        this.final = m.final;
        this.ledger = m.final.ledger;
        return;
      case 'stopped':
        this.stopMs = m.stopMs;
        this.terminations = m.terminations;
        return;
    }
  }
}
