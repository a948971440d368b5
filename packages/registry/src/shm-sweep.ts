/**
 * Shared-memory segments are tracked like processes: the bridge names every segment it or its
 * workers create `/dev/shm/trellis-shm.<run id>.<owner>.<n>` (grpc-bridge src/shm/segments.ts), so
 * after a `kill -9` of a host the sweep can tell its leftovers by the run id in the name, exactly as
 * it tells a process by the run marker on its command line: the run's host PID and start time say
 * whether it is dead. Segments of live runs, of other homes, and names that are not run ids are
 * never touched.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type HostIdentity, judgeRun, parseRunId } from '@trellis/home';

export const SHM_DIR = '/dev/shm';
const PREFIX = 'trellis-shm.';

/** Removes the segments of this home's dead runs; returns the names removed. */
export function sweepSharedMemory(here: HostIdentity, ownRunId: string | undefined, dir = SHM_DIR): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no /dev/shm (not Linux): nothing can be left there
  }
  const verdicts = new Map<string, boolean>();
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const runId = name.slice(PREFIX.length, name.indexOf('.', PREFIX.length));
    let dead = verdicts.get(runId);
    if (dead === undefined) {
      const parts = parseRunId(runId);
      dead =
        runId !== ownRunId && parts?.homeTag === here.homeTag && judgeRun(runId, undefined, here) === 'dead';
      verdicts.set(runId, dead);
    }
    if (!dead) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // removed meanwhile
    }
  }
  return removed;
}
