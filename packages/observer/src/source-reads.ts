/**
 * Reading the pluggable sources for one snapshot: each read under a time-out, never rejecting (a
 * failing source shows its error in its section), and health records joined to the tree.
 */
import type { TimerHandle } from '@trellis/core';
import { OBSERVER_DEFAULTS } from './defaults.js';
import { pickHealth } from './health-persisted.js';
import type { Normalized } from './observer-options.js';
import { isToolPoolStats, labelledValues, type PoolHistory } from './pool-view.js';
import type { NodeHealth, PoolView, SourceResult } from './snapshot.js';
import type {
  HealthRecordView,
  PoolSource,
  RegistryProcessView,
  RegistryRunView,
  RegistrySource,
} from './sources.js';

function message(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

/** Runs one source read under the source time-out; never rejects. */
export async function read<T>(
  fn: () => Iterable<T> | Promise<Iterable<T>>,
  o: Normalized,
): Promise<SourceResult<T>> {
  let timer: TimerHandle | undefined;
  try {
    const timeout = new Promise<never>((_r, reject) => {
      timer = o.clock.setTimeout(
        () => reject(new Error(`no answer within ${OBSERVER_DEFAULTS.sourceTimeoutMs} ms`)),
        OBSERVER_DEFAULTS.sourceTimeoutMs,
      );
    });
    const v = await Promise.race([Promise.resolve().then(fn), timeout]);
    return { items: [...v] };
  } catch (e) {
    return { items: [], error: message(e) };
  } finally {
    if (timer !== undefined) o.clock.clearTimeout(timer);
  }
}

export async function readRegistry(
  src: RegistrySource,
  o: Normalized,
): Promise<SourceResult<RegistryProcessView> & { runs?: readonly RegistryRunView[] }> {
  const [processes, runs] = await Promise.all([
    read(() => src.processes(), o),
    src.runs ? read(() => src.runs!(), o) : undefined,
  ]);
  return runs ? { ...processes, runs: runs.items, error: processes.error ?? runs.error } : processes;
}

export async function readPool(
  name: string,
  src: PoolSource,
  o: Normalized,
  history: PoolHistory,
): Promise<PoolView> {
  const r = await read(async () => [await src.stats()], o);
  if (r.error !== undefined) return { name, error: r.error };
  const stats = r.items[0] ?? {};
  if (isToolPoolStats(stats)) return { name, tool: history.view(stats, Date.now()) };
  return { name, values: labelledValues(stats) };
}

/** Joins health records to tree nodes: by pid, else by supervisor + id, else by an id that is unique. */
export class HealthJoin {
  readonly #byPid = new Map<string, HealthRecordView>();
  readonly #bySupId = new Map<string, HealthRecordView>();
  readonly #byId = new Map<string, HealthRecordView | null>();
  readonly #used = new Set<HealthRecordView>();
  readonly #all: readonly HealthRecordView[];

  constructor(records: readonly HealthRecordView[]) {
    this.#all = records;
    for (const r of records) {
      if (typeof r.pid === 'string') this.#byPid.set(r.pid, r);
      if (typeof r.id === 'string') {
        if (typeof r.supervisor === 'string') this.#bySupId.set(`${r.supervisor} ${r.id}`, r);
        this.#byId.set(r.id, this.#byId.has(r.id) ? null : r);
      }
    }
  }

  lookup(pid: string | null, id: string | null, supervisor: string | null): NodeHealth | undefined {
    let r = pid !== null ? this.#byPid.get(pid) : undefined;
    if (r === undefined && id !== null) {
      r = supervisor !== null ? this.#bySupId.get(`${supervisor} ${id}`) : undefined;
      const byId = this.#byId.get(id);
      // A record of another supervisor's child, or with another live pid, is not this node's.
      if (r === undefined && byId && (byId.supervisor == null || byId.supervisor === supervisor)) r = byId;
    }
    if (r === undefined) return undefined;
    this.#used.add(r);
    return {
      state: String(r.state),
      lastHeartbeatAt: r.lastHeartbeatAt ?? undefined,
      lastExitReason: r.lastExitReason ?? undefined,
    };
  }

  /** The records not shown in the tree, reduced to what the page shows. */
  unmatched(): HealthRecordView[] {
    return this.#all.filter((r) => !this.#used.has(r)).map(pickHealth);
  }
}
