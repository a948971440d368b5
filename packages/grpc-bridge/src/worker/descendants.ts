/**
 * The host's half of "no process of a tool outlives its worker" (the worker's half is
 * trellis_worker/descendants.py: it is a child subreaper and kills what it finds when it exits).
 *
 * The worker cannot clean up after itself when it is SIGKILLed (by us, the OOM killer, a user):
 * its escaped descendants (new session, double fork) are then re-parented to init, out of its
 * process group. So when a worker's process is gone the host ends them:
 *
 *   - **cgroup v2** where this process may create cgroups (root, or a delegated subtree): each
 *     worker gets `<our cgroup>/trellis-<hostpid>-<starttime>/w<n>`, joined by the worker before it
 *     imports any tool. Nothing can leave a cgroup without write access to another one, so its
 *     `cgroup.kill` (Linux >= 5.14; else a SIGKILL to each member of `cgroup.procs`) ends every
 *     descendant. A pool's start also sweeps the cgroups of hosts that are gone (both host and
 *     worker kill -9'd: nobody was left to do it).
 *   - **otherwise, an environment tag**: each worker's environment carries a unique
 *     `TRELLIS_WORKER_TAG`, inherited by its descendants; the host SIGKILLs every process whose
 *     `/proc/<pid>/environ` holds it. A descendant that replaced its whole environment escapes this
 *     one (docs/reliability.md says what is guaranteed where).
 *
 * `TRELLIS_WORKER_CGROUPS=off` turns the cgroups off (the tests of the fallback use it).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive, listProcessIds, readProcStat } from '@trellis/core';

export const CGROUP_ENV = 'TRELLIS_WORKER_CGROUP';
export const TAG_ENV = 'TRELLIS_WORKER_TAG';
const DISABLE_ENV = 'TRELLIS_WORKER_CGROUPS';

/** Where cgroup v2 is mounted and this process's own cgroup in it, or undefined. */
export function ownCgroupDir(): string | undefined {
  let mount: string | undefined;
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      // "<id> <parent> <maj:min> <root> <mount point> <opts> ... - <fstype> <source> <super opts>"
      const dash = line.indexOf(' - ');
      if (dash < 0 || !line.slice(dash + 3).startsWith('cgroup2 ')) continue;
      mount = line.split(' ')[4];
      break;
    }
    if (mount === undefined) return undefined;
    const own = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (own === undefined) return undefined;
    return join(mount, own.slice(3).trim());
  } catch {
    return undefined;
  }
}

const HOST_DIR = /^trellis-(\d+)-(\d+)-[0-9a-f]+$/;

/** One pool's cgroups (one per worker launch), under a directory of its own. */
export class WorkerCgroups {
  readonly dir: string;
  #seq = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** A directory for a pool's workers, or undefined when cgroups cannot be used here. */
  static open(): WorkerCgroups | undefined {
    if (process.platform !== 'linux' || process.env[DISABLE_ENV] === 'off') return undefined;
    const base = ownCgroupDir();
    if (base === undefined) return undefined;
    const me = readProcStat(process.pid);
    const dir = join(base, `trellis-${process.pid}-${me?.startTime ?? 0}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(dir);
    } catch {
      return undefined; // not ours to write (no delegation, read-only): the fallback tag is used
    }
    sweepDeadHosts(base);
    return new WorkerCgroups(dir);
  }

  /** A fresh cgroup for one worker launch; undefined if it cannot be created. */
  create(): string | undefined {
    const path = join(this.dir, `w${++this.#seq}`);
    try {
      mkdirSync(path);
      return path;
    } catch {
      return undefined;
    }
  }

  /** Removes the pool's directory (its worker cgroups are removed as their workers go). */
  close(): void {
    for (const name of safeReaddir(this.dir)) removeCgroup(join(this.dir, name));
    removeCgroup(this.dir);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** The PIDs in a cgroup (empty when it is gone). */
export function cgroupMembers(path: string): number[] {
  try {
    return readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILLs every process in the cgroup: cgroup.kill where the kernel has it, else one by one. */
export function killCgroup(path: string): void {
  try {
    writeFileSync(join(path, 'cgroup.kill'), '1');
    return;
  } catch {
    // Linux < 5.14 (no cgroup.kill) or the cgroup is gone.
  }
  for (const pid of cgroupMembers(path)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Kills what is left in the cgroup and removes it; a cgroup with processes cannot be removed, and
 * SIGKILLed processes leave it a moment later, so this retries briefly (bounded).
 */
export async function killAndRemoveCgroup(path: string): Promise<void> {
  killCgroup(path);
  for (let i = 0; i < 100; i++) {
    if (removeCgroup(path)) return;
    if (i % 10 === 9) killCgroup(path); // a member forked after the first kill
    await new Promise((r) => setTimeout(r, 10));
  }
}

function removeCgroup(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Kills and removes the cgroups left by hosts that are gone (never those of a live host). */
function sweepDeadHosts(base: string): void {
  for (const name of safeReaddir(base)) {
    const m = HOST_DIR.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isProcessAlive(pid, Number(m[2]))) continue;
    const dir = join(base, name);
    for (const w of safeReaddir(dir)) {
      killCgroup(join(dir, w));
      removeCgroup(join(dir, w)); // may still be emptying: the next sweep finishes it
    }
    removeCgroup(dir);
  }
}

/** A unique tag for one worker launch's environment (inherited by its descendants). */
export function newWorkerTag(): string {
  return `${process.pid}-${randomBytes(8).toString('hex')}`;
}

/**
 * SIGKILLs every process whose environment carries `TAG_ENV=<tag>` (the fallback without cgroups),
 * repeating while new ones show up (a killed parent's fork may have raced the scan); returns the
 * PIDs killed. Reading another user's environ is not allowed, and their processes are not ours.
 */
export function killTagged(tag: string): number[] {
  const needle = Buffer.from(`\0${TAG_ENV}=${tag}\0`);
  const first = Buffer.from(`${TAG_ENV}=${tag}\0`);
  const killed: number[] = [];
  for (let round = 0; round < 5; round++) {
    let found = 0;
    for (const pid of listProcessIds()) {
      if (pid === process.pid) continue;
      let env: Buffer;
      try {
        env = readFileSync(`/proc/${pid}/environ`);
      } catch {
        continue;
      }
      if (env.indexOf(needle) < 0 && !env.subarray(0, first.length).equals(first)) continue;
      const st = readProcStat(pid);
      if (st === undefined || st.state === 'Z' || st.state === 'X') continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
        found++;
      } catch {
        // gone meanwhile
      }
    }
    if (found === 0) break;
  }
  return killed;
}
