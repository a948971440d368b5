/**
 * A cgroup of the driver's own around each system under test (cgroup v2, where this process may
 * create one: root), so that the runs' worker cgroups are out of reach of every other Trellis host on
 * the machine.
 *
 * Why: a pool's start kills and removes the worker cgroups of dead hosts that sit beside its own
 * (grpc-bridge worker/descendants.ts, sweepDeadHosts), and with every process of the machine in the
 * root cgroup, any pool started anywhere (another checkout's `pnpm test`) killed run A's SIGSTOPped
 * workers within milliseconds of the host's kill -9, before run B's registry sweep could find them:
 * "kill -9, then the fresh start sweeps: 0 orphans" under load (seed 1292544840). Inside
 * `<own cgroup>/trellis-chaos-<pid>-<hex>/<run>`, a host's pool sweeps only its run's directory, and
 * the name matches no host's pattern, so no other sweep looks inside.
 *
 * Without cgroup v2 or the right to create one, the runs stay where they are (as before).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killCgroup, ownCgroupDir } from '@trellis/grpc-bridge';

export class RunCgroups {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** The driver's directory, or undefined when cgroups cannot be used here. */
  static open(): RunCgroups | undefined {
    const base = process.platform === 'linux' ? ownCgroupDir() : undefined;
    if (base === undefined) return undefined;
    const dir = join(base, `trellis-chaos-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(dir);
    } catch {
      return undefined;
    }
    return new RunCgroups(dir);
  }

  /** A cgroup for one run (its host joins it at start: joinRunCgroup); undefined if it cannot be made. */
  forRun(run: string): string | undefined {
    const path = join(this.dir, run);
    try {
      mkdirSync(path);
      return path;
    } catch {
      return undefined;
    }
  }

  /**
   * Removes the tree, deepest first. Whatever is still inside is this suite's (its hosts, their
   * workers and tools): killed first, as a cgroup can only be removed once empty. Bounded retries.
   */
  async remove(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if (removeTree(this.dir)) return;
      killTree(this.dir);
      await new Promise((r) => setTimeout(r, 20));
    }
    console.error(`chaos: could not remove the cgroup ${this.dir}`);
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

function killTree(dir: string): void {
  for (const d of subdirs(dir)) killTree(d);
  killCgroup(dir);
}

/** True once `dir` and everything below it are gone. */
function removeTree(dir: string): boolean {
  let all = true;
  for (const d of subdirs(dir)) all = removeTree(d) && all;
  try {
    rmdirSync(dir);
    return all;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' && all;
  }
}

/**
 * In the system under test, before anything starts: moves this process into the cgroup the driver
 * made for its run (its pools then create their worker cgroups below it).
 */
export function joinRunCgroup(path: string | undefined): void {
  if (path === undefined) return;
  try {
    writeFileSync(join(path, 'cgroup.procs'), String(process.pid));
  } catch (e) {
    console.error(`chaos: could not join the run's cgroup ${path}: ${(e as Error).message}`);
  }
}
