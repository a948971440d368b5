/**
 * The registry as persisted in LMDB, read from any process: what `trellis status` prints when no
 * observer is running, and what the standalone page shows. Opened read-only for each read, so it
 * never moves a bad file aside, never writes, and holds no file open between reads.
 */
import { currentIdentity, homeTagFor, judgeRun } from '@trellis/home';
import { childStatus, type RegistryLogger, RegistryStore } from '@trellis/registry';
import {
  type RegistryProcessView,
  type RegistryRunView,
  type RegistrySource,
  toProcessView,
} from './sources.js';

export interface PersistedRegistry {
  readonly dir: string;
  /** False when there is no registry file in `dir`. */
  readonly exists: boolean;
  readonly runs: readonly RegistryRunView[];
  readonly processes: readonly RegistryProcessView[];
}

const quiet: RegistryLogger = { info: () => {}, warn: () => {} };

export async function readPersistedRegistry(dir: string): Promise<PersistedRegistry> {
  if (!RegistryStore.exists(dir)) return { dir, exists: false, runs: [], processes: [] };
  const store = RegistryStore.open({ dir, logger: quiet, readOnly: true });
  try {
    const here = currentIdentity(homeTagFor(dir));
    const runs = store.listRuns().map(
      (r): RegistryRunView => ({
        runId: r.runId,
        hostPid: r.hostPid,
        host: judgeRun(r.runId, r, here),
        startedAt: r.startedAt,
      }),
    );
    const processes = store.listChildren().map((c) => toProcessView(c, childStatus(c)));
    return { dir, exists: true, runs, processes };
  } finally {
    await store.close();
  }
}

/** Every run and process persisted in the registry at `dir`, re-read on each poll. */
export function persistedRegistrySource(dir: string): RegistrySource {
  let last: Promise<PersistedRegistry> | undefined;
  // processes() and runs() are asked together on each poll: one read serves both.
  const get = (): Promise<PersistedRegistry> => {
    if (last === undefined) {
      last = readPersistedRegistry(dir);
      void last.finally(() => setImmediate(() => (last = undefined))).catch(() => {});
    }
    return last;
  };
  return {
    processes: async () => (await get()).processes,
    runs: async () => (await get()).runs,
  };
}
