/**
 * What the driver and the system under test (a child node process, see sut.ts) say to each other.
 * The driver passes the configuration in the environment; the system under test reports over the
 * IPC channel every `reportMs`, so that a SIGKILL at any moment loses at most one report interval.
 */
import type { SweepReport } from '@trellis/registry';
import type { LedgerSnapshot } from './ledger.js';
import type { Observations } from './observations.js';

export const SUT_CONFIG_ENV = 'TRELLIS_CHAOS_SUT';

/** The environment that hands a system under test its home and configuration (read back by sutConfigFromEnv). */
export function sutEnv(cfg: SutConfig, home: string): NodeJS.ProcessEnv {
  return { ...process.env, TRELLIS_HOME: home, [SUT_CONFIG_ENV]: JSON.stringify(cfg) };
}

/** The configuration the driver handed this process; null when the driver did not start it. */
export function sutConfigFromEnv(): SutConfig | null {
  return JSON.parse(process.env[SUT_CONFIG_ENV] ?? 'null') as SutConfig | null;
}

export interface SutConfig {
  /** `A` (killed with SIGKILL by the driver), `B` (the fresh start), or `soak`. */
  readonly run: string;
  readonly seed: number;
  /** Date.now() of the suite's start: run offsets are measured from it, across processes. */
  readonly originEpochMs: number;
  /** Length of the whole run (the schedule is rebuilt from seed and duration). */
  readonly durationMs: number;
  /** Run offset at which this process stops its load (then settles, checks and stops in order). */
  readonly loadEndMs: number;
  readonly faults: boolean;
  /** Offset of the host kill in the schedule (faults between it and this start are skipped). */
  readonly hostKillAtMs: number | undefined;
  readonly callers: number;
  readonly sampleMs: number;
  readonly reportMs: number;
  /** The cgroup this process joins before it starts anything (run-cgroup.ts); none when undefined. */
  readonly cgroup?: string | undefined;
}

export interface LeaderObservation {
  /** Epochs seen while leading, in order of first sight. */
  readonly epochs: readonly number[];
  readonly fencedWrites: number;
  readonly keeperLosses: number | undefined;
  readonly role: string | undefined;
}

export type SutMessage =
  | {
      readonly t: 'ready';
      readonly run: string;
      readonly runId: string;
      readonly pid: number;
      readonly atMs: number;
      readonly startMs: number;
      readonly bootSweep: SweepReport | undefined;
      readonly workerPids: Readonly<Record<string, readonly number[]>>;
    }
  | {
      readonly t: 'report';
      readonly run: string;
      readonly atMs: number;
      readonly ledger: LedgerSnapshot;
      /** Only what is new since the previous report. */
      readonly observed: Observations;
      readonly leader: LeaderObservation;
    }
  | { readonly t: 'final'; readonly run: string; readonly atMs: number; readonly final: SutFinal }
  | {
      readonly t: 'stopped';
      readonly run: string;
      readonly atMs: number;
      readonly stopMs: number;
      /** How each child ended during the orderly stop (its supervisor's child_terminated event). */
      readonly terminations: readonly Termination[];
    };

export interface Termination {
  readonly id: string;
  readonly reason: string;
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** The check's own precondition was not met, so it judged nothing: `ok` is true, `detail` says why. */
  readonly skipped?: true;
}

/** PASS, FAIL or SKIP, as the console lines show a check. */
export function verdictWord(c: CheckResult): 'PASS' | 'FAIL' | 'SKIP' {
  return c.skipped ? 'SKIP' : c.ok ? 'PASS' : 'FAIL';
}

export interface SutFinal {
  readonly ledger: LedgerSnapshot;
  readonly checks: readonly CheckResult[];
  readonly settleMs: number;
  readonly pools: Readonly<Record<string, { size: number; ready: number; restarts: number; pids: number[] }>>;
  readonly registry: { readonly records: number; readonly live: number; readonly marked: number };
  readonly leader: LeaderObservation;
}
