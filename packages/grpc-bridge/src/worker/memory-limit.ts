/**
 * `maxRssMb` as a hard limit (issue 13, defect 7): it used to be checked at each 2 s heartbeat, and a
 * tool leaking 100 MiB per call took a worker to 5x its limit. Three layers now:
 *
 *   - the kernel: the worker caps its own data segment (`--max-rss-mb`, RLIMIT_DATA; see
 *     trellis_worker/memory.py), so an allocation past the limit fails in the tool and the worker
 *     exits with EXIT_MEMORY (5);
 *   - the host's RSS poll: every `rssPollMs` (100 ms) it reads `/proc/<pid>/statm` (cheap: one
 *     small read) and SIGKILLs a worker above the limit;
 *   - a graceful recycle before either: a worker above `softRssRatio` of the limit is replaced while
 *     it keeps serving (the old `maxRssMb` behaviour, now seen within 100 ms).
 *
 * Calls running on a worker ended by the first two fail with ERR_WORKER_MEMORY_LIMIT.
 */
import { readFileSync } from 'node:fs';
import { type WorkerExit, WorkerMemoryLimitError } from '../errors.js';

/** The worker's exit code when its memory cap refused an allocation (trellis_worker/memory.py). */
export const EXIT_MEMORY = 5;

const PAGE = 4096;

/**
 * Resident set size of `pid` from /proc/<pid>/statm (second field, in pages); undefined once the
 * process is gone. The page size is 4 KiB on every Linux this runs on (x86-64, arm64 with 4K pages);
 * /proc/<pid>/status's VmRSS (in kB) is the exact figure, read at heartbeats.
 */
export function readStatmRss(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/statm`, 'latin1');
    const sp = s.indexOf(' ');
    return Number.parseInt(s.slice(sp + 1), 10) * PAGE;
  } catch {
    return undefined;
  }
}

/** The error of a worker that exited with EXIT_MEMORY, or undefined for any other exit. */
export function memoryExitError(
  exit: WorkerExit,
  limitMb: number,
  lastRss: number | undefined,
): WorkerMemoryLimitError | undefined {
  if (exit.exitCode !== EXIT_MEMORY || !Number.isFinite(limitMb)) return undefined;
  return new WorkerMemoryLimitError(
    exit.pid,
    limitMb,
    lastRss,
    "the kernel refused a tool allocation past the worker's memory cap (RLIMIT_DATA, set from maxRssMb)",
  );
}
