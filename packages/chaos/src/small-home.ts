/**
 * The chaos home on a filesystem of its own, so the `disk-full` fault can fill it for real (issue 13,
 * defect 4) without touching the machine's /tmp, which other programs share. Needs root (mount);
 * without it the home stays a plain temporary directory and every `disk-full` fault lands as
 * `no-target`, with a note saying why.
 *
 * The size is generous for what lives there (the registry, health and lease files: a few hundred KiB),
 * so only the fault fills it.
 */
import { spawnSync } from 'node:child_process';

/** Set in the environment of the systems under test when their home is a tmpfs of this run's own. */
export const SMALL_HOME_ENV = 'TRELLIS_CHAOS_SMALL_HOME';

export function mountSmallHome(dir: string, sizeMiB: number): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    console.error(
      `chaos: could not mount a tmpfs for the home (${r.stderr.trim()}); disk-full faults will not land`,
    );
    return false;
  }
  return true;
}

/** Unmounts it (lazily if a process still holds a file there: the run's own are gone by now). */
export function unmountSmallHome(dir: string): void {
  const r = spawnSync('umount', [dir]);
  if (r.status !== 0) spawnSync('umount', ['-l', dir]);
}
