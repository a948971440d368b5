/**
 * @trellis/health's persisted data (its LMDB files next to the registry): heartbeat records and
 * leases, read when that package is installed and built. It is loaded at run time, not imported: the
 * observer works without it, and builds without depending on it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type HealthRecordView, type LeaseRecordLike, type LeaseView, leaseStoreSource } from './sources.js';

const HEALTH_PACKAGE = '@trellis/health';

export interface PersistedHealth {
  /** False when @trellis/health cannot be loaded (then `records` is empty). */
  readonly available: boolean;
  readonly records: readonly HealthRecordView[];
  readonly error?: string | undefined;
}

/** A record reduced to what the observer shows (health records carry much more). */
export function pickHealth(r: HealthRecordView): HealthRecordView {
  return {
    pid: r.pid ?? undefined,
    id: r.id ?? undefined,
    supervisor: r.supervisor ?? undefined,
    state: r.state,
    lastHeartbeatAt: r.lastHeartbeatAt ?? undefined,
    restarts: r.restarts,
    lastExitReason: r.lastExitReason ?? undefined,
  };
}

type ReadHealth = (o: { dir: string }) => Promise<{ records: readonly HealthRecordView[] }>;

interface LeaseStoreLike {
  list(): Promise<LeaseRecordLike[]>;
  close(): Promise<void>;
}

interface HealthModule {
  readonly readHealth?: ReadHealth;
  readonly LmdbLeaseStore?: { open(o: { dir: string }): LeaseStoreLike };
  readonly LEASE_DEFAULTS?: { readonly fileName?: string };
}

async function load(): Promise<HealthModule | undefined> {
  try {
    return (await import(HEALTH_PACKAGE)) as HealthModule;
  } catch {
    return undefined;
  }
}

export async function readPersistedHealth(dir: string): Promise<PersistedHealth> {
  const read = (await load())?.readHealth;
  if (typeof read !== 'function') return { available: false, records: [] };
  try {
    const snap = await read({ dir });
    return { available: true, records: snap.records.map(pickHealth) };
  } catch (e) {
    return { available: true, records: [], error: (e as Error)?.message ?? String(e) };
  }
}

export interface PersistedLeases {
  /** False when @trellis/health cannot be loaded or no lease file exists in the directory. */
  readonly available: boolean;
  readonly leases: readonly LeaseView[];
  readonly error?: string | undefined;
}

/** The leases in the lease file of `dir`; the file is opened only if it exists (never created here). */
export async function readPersistedLeases(dir: string): Promise<PersistedLeases> {
  const mod = await load();
  const fileName = mod?.LEASE_DEFAULTS?.fileName;
  if (mod?.LmdbLeaseStore === undefined || typeof fileName !== 'string' || !existsSync(join(dir, fileName))) {
    return { available: false, leases: [] };
  }
  let store: LeaseStoreLike | undefined;
  try {
    store = mod.LmdbLeaseStore.open({ dir });
    return { available: true, leases: [...(await leaseStoreSource(store).leases())] };
  } catch (e) {
    return { available: true, leases: [], error: (e as Error)?.message ?? String(e) };
  } finally {
    await store?.close();
  }
}
