/**
 * The fault schedule: which fault, when, and the random numbers that later choose its target. It is
 * a pure function of (seed, duration), so `--seed N` replays it exactly; what a fault lands on still
 * depends on the system's state at that moment (which workers are alive), which a replay cannot fix.
 *
 * Faults arrive at irregular intervals (gaps uniform in 0.5-1.5 x the mean). Every kind appears at
 * least once when the run has room for it: the list of kinds is one of each plus weighted draws, shuffled, then laid on
 * the arrival times. None is placed in the lead (the tree is still warming up), in the tail (every
 * effect must show before the end-of-run checks) or in the window where the host is down after its
 * kill -9 (nothing there to hit).
 */
import { CHAOS_DEFAULTS } from './defaults.js';
import { Prng } from './prng.js';

/** Faults injected inside the system under test (the host kill is the driver's). */
export const FAULT_KINDS = [
  'worker-sigkill',
  'worker-sigstop-short',
  'worker-sigstop-long',
  'tool-hang-async',
  'tool-hang-coop',
  'tool-hang-stuck',
  'tool-leak',
  'tool-leak-hard',
  'tool-escape',
  'stderr-flood',
  'shm-full',
  'worker-nondumpable',
  'thread-throw',
  'thread-exit',
  'thread-uncaught',
  'thread-oom',
  'server-crash',
  'leader-crash',
  'task-throw',
  'task-exit',
  'task-pool-kill',
  'disk-full',
] as const;

export type InProcessFaultKind = (typeof FAULT_KINDS)[number];
export type FaultKind = InProcessFaultKind | 'host-kill9';

/** Relative frequency of each kind beyond its first occurrence. */
export const FAULT_WEIGHTS: Readonly<Record<InProcessFaultKind, number>> = Object.freeze({
  'worker-sigkill': 3,
  'worker-sigstop-short': 2,
  'worker-sigstop-long': 1,
  'tool-hang-async': 1,
  'tool-hang-coop': 1,
  'tool-hang-stuck': 1,
  'tool-leak': 1,
  'tool-leak-hard': 1,
  'tool-escape': 2,
  'stderr-flood': 1,
  'shm-full': 1,
  'worker-nondumpable': 1,
  'thread-throw': 2,
  'thread-exit': 1,
  'thread-uncaught': 1,
  'thread-oom': 1,
  'server-crash': 2,
  'leader-crash': 1,
  'task-throw': 1,
  'task-exit': 1,
  'task-pool-kill': 1,
  'disk-full': 1,
});

export interface PlannedFault {
  readonly index: number;
  /** Offset from the start of the run, ms. */
  readonly atMs: number;
  readonly kind: InProcessFaultKind;
  /** Chooses the target among those alive when the fault fires (index = pick mod count). */
  readonly pick: number;
  /** A number in [0, 1) for the fault's own parameters (how long a SIGSTOP lasts, ...). */
  readonly param: number;
}

export interface Schedule {
  readonly seed: number;
  readonly durationMs: number;
  /** Offset at which the driver kills the host with SIGKILL (undefined: no host kill, e.g. a soak). */
  readonly hostKillAtMs: number | undefined;
  readonly faults: readonly PlannedFault[];
}

export interface ScheduleOptions {
  readonly meanGapMs?: number;
  readonly leadMs?: number;
  readonly tailMs?: number;
  readonly killWindow?: readonly [number, number];
  /** Time after the kill left free of faults (the fresh host is starting). */
  readonly restartGapMs?: number;
  readonly hostKill?: boolean;
}

export function buildSchedule(seed: number, durationMs: number, o: ScheduleOptions = {}): Schedule {
  const rng = Prng.derive(seed, 'schedule');
  const lead = o.leadMs ?? CHAOS_DEFAULTS.faultLeadMs;
  const tail = o.tailMs ?? CHAOS_DEFAULTS.faultTailMs;
  const [k0, k1] = o.killWindow ?? CHAOS_DEFAULTS.hostKillWindow;
  const restartGap = o.restartGapMs ?? CHAOS_DEFAULTS.restartGapMs;
  // A short run (the CI version) packs faults closer, so that even its longest gaps leave room for
  // one of every kind (1.6 slots per kind); a long run keeps the default pace. Never denser than
  // one fault per 400 ms.
  const available = durationMs - lead - tail - (o.hostKill === false ? 0 : restartGap);
  const meanGap =
    o.meanGapMs ??
    Math.max(400, Math.min(CHAOS_DEFAULTS.meanFaultGapMs, available / (FAULT_KINDS.length * 1.6)));
  const hostKillAtMs = o.hostKill === false ? undefined : Math.round(durationMs * rng.range(k0, k1));

  const times: number[] = [];
  // Gaps uniform in [0.5, 1.5] x the mean: irregular, but (unlike exponential gaps) never so sparse
  // that a short run misses a kind by chance.
  const gap = () => meanGap * rng.range(0.5, 1.5);
  for (let t = lead + gap(); t < durationMs - tail; t += gap()) {
    if (hostKillAtMs !== undefined && t >= hostKillAtMs && t < hostKillAtMs + restartGap) continue;
    times.push(Math.round(t));
    if (times.length > 100_000) break; // bounded whatever the options
  }
  const kinds: InProcessFaultKind[] = [...FAULT_KINDS];
  const weighted = FAULT_KINDS.map((k) => [k, FAULT_WEIGHTS[k]] as const);
  while (kinds.length < times.length) kinds.push(rng.weighted(weighted));
  rng.shuffle(kinds);
  const faults: PlannedFault[] = times.map((atMs, index) => ({
    index,
    atMs,
    kind: kinds[index]!,
    pick: rng.uint32(),
    param: rng.next(),
  }));
  return { seed, durationMs, hostKillAtMs, faults };
}
