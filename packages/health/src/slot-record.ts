/**
 * Conversions between a monitor's in-memory slots (monitor clock ms) and the records and heartbeat
 * tables other processes read (wall-clock ms).
 */
import { isPid, type Pid } from '@trellis/core';
import type { HealthRecord, HeartbeatTable } from './health-records.js';
import { type HealthState, isTerminal, type Slot, type StalePolicy, type Timings } from './health-state.js';

/** Monitor clock ms to wall ms, and back. */
export interface WallClock {
  wall(t: number): number;
  clock(wall: number): number;
}

/** A key seen for the first time: `initializing` from `now`. */
export function newSlot(
  key: string,
  pid: Pid,
  policy: StalePolicy,
  timings: Timings,
  escalateTo: Pid | string | undefined,
  now: number,
): Slot {
  return {
    key,
    pid,
    id: undefined,
    supervisor: undefined,
    kind: 'actor',
    policy,
    escalateTo,
    timings,
    state: 'initializing',
    cause: 'registered',
    stateSince: now,
    registeredAt: now,
    lastBeat: undefined,
    beats: 0,
    restarts: 0,
    lastExitReason: undefined,
    lastExitAt: undefined,
    live: true,
    dirty: true,
    ref: undefined,
  };
}

export function slotToRecord(s: Slot, runId: string, w: WallClock, now: number): HealthRecord {
  const end = s.live ? now : (s.lastExitAt ?? now);
  return {
    runId,
    key: s.key,
    pid: s.pid,
    id: s.id ?? null,
    supervisor: s.supervisor ?? null,
    kind: s.kind,
    state: s.state,
    cause: s.cause,
    policy: s.policy,
    intervalMs: s.timings.intervalMs,
    staleAfterMs: s.timings.staleAfterMs,
    startupTimeoutMs: s.timings.startupTimeoutMs,
    failAfterMs: s.timings.failAfterMs,
    registeredAt: w.wall(s.registeredAt),
    stateSince: w.wall(s.stateSince),
    lastHeartbeatAt: s.lastBeat === undefined ? null : w.wall(s.lastBeat),
    beats: s.beats,
    uptimeMs: Math.max(0, Math.round(end - s.registeredAt)),
    restarts: s.restarts,
    lastExitReason: s.lastExitReason ?? null,
    lastExitAt: s.lastExitAt === undefined ? null : w.wall(s.lastExitAt),
    writtenAt: w.wall(now),
  };
}

/** The heartbeats of every slot that has beaten, as one columnar value. */
export function heartbeatTable(slots: Iterable<Slot>, w: WallClock, now: number): HeartbeatTable {
  const keys: string[] = [];
  const at: number[] = [];
  const beats: number[] = [];
  for (const s of slots) {
    if (s.lastBeat === undefined) continue;
    keys.push(s.key);
    at.push(w.wall(s.lastBeat));
    beats.push(s.beats);
  }
  return { writtenAt: w.wall(now), keys, lastHeartbeatAt: at, beats };
}

/**
 * A slot for a record a previous monitor of the same run left (see HealthMonitor.adopt). Live ones
 * (`resumable`) get a fresh stale window: beats sent while no monitor ran were lost. Undefined for
 * records that cannot be adopted.
 */
export function slotFromRecord(
  r: HealthRecord,
  w: WallClock,
  now: number,
  escalateTo: Pid | string | undefined,
): Slot | undefined {
  if (!isPid(r.pid) || r.state === 'dead') return undefined;
  const recorded = r.state as HealthState;
  const resumable = !isTerminal(recorded) || (recorded === 'stopped' && r.cause === 'monitor_stopped');
  const clock = (wall: number | null) => (wall === null ? undefined : w.clock(wall));
  const supervisor = (r.supervisor ?? undefined) as Pid | undefined;
  return {
    key: r.key,
    pid: r.pid,
    id: r.id ?? undefined,
    supervisor,
    kind: r.kind,
    policy: r.policy,
    escalateTo: escalateTo ?? supervisor,
    timings: {
      intervalMs: r.intervalMs,
      staleAfterMs: r.staleAfterMs,
      startupTimeoutMs: r.startupTimeoutMs,
      failAfterMs: r.failAfterMs,
    },
    state: resumable && recorded === 'stopped' ? 'active' : recorded,
    cause: resumable ? 'adopted' : (r.cause as Slot['cause']),
    // A stale one keeps its deadline to failed; the others start their windows now.
    stateSince: resumable && recorded !== 'stale' ? now : (clock(r.stateSince) ?? now),
    registeredAt: clock(r.registeredAt) ?? now,
    lastBeat: resumable ? now : clock(r.lastHeartbeatAt),
    beats: r.beats,
    restarts: r.restarts,
    lastExitReason: r.lastExitReason ?? undefined,
    lastExitAt: clock(r.lastExitAt),
    live: resumable,
    dirty: true,
    ref: undefined,
  };
}
