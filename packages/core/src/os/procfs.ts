/**
 * Small, synchronous readers for Linux `/proc`, used to identify processes without trusting a PID
 * alone: a PID is only meaningful together with the process start time (field 22 of
 * `/proc/<pid>/stat`, in clock ticks since boot), because PIDs are reused (pid_max is often 32768).
 *
 * Every reader returns `undefined` instead of throwing when the process is gone or unreadable:
 * a process can exit between any two reads, and callers must treat "cannot read" as "not there".
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';

/** The fields of `/proc/<pid>/stat` that process identification needs. */
export interface ProcStat {
  readonly pid: number;
  /** Executable name (field 2), truncated by the kernel to 15 characters. */
  readonly comm: string;
  /** Field 3: R running, S sleeping, D disk sleep, Z zombie, T stopped, X dead, ... */
  readonly state: string;
  readonly ppid: number;
  /** Process group id (field 5). */
  readonly pgid: number;
  /** Session id (field 6). */
  readonly sid: number;
  /** Start time in clock ticks after boot (field 22). Together with `pid` it names one process. */
  readonly startTime: number;
}

const PROC = '/proc';
/** Upper bound for one /proc file (a command line or environment is at most a few hundred KB). */
const MAX_PROC_FILE = 4 * 1024 * 1024;
// Reused read buffer: these readers are synchronous, so one buffer per thread cannot be shared mid-read.
let scratch = Buffer.allocUnsafe(8192);

/**
 * Reads a /proc file with open + read + close. `readFileSync` also stats the file (0 bytes for /proc)
 * and reads twice; on a just-spawned child that costs ~75 us against ~30 us here, on every tracked spawn.
 */
function readProcFile(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let len = 0;
    // Bounded: every pass either ends (read returns 0) or adds bytes, up to MAX_PROC_FILE.
    for (;;) {
      if (len === scratch.length) {
        if (len >= MAX_PROC_FILE) break;
        const bigger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(bigger, 0, 0, len);
        scratch = bigger;
      }
      const n = readSync(fd, scratch, len, scratch.length - len, null);
      if (n === 0) break;
      len += n;
      // A stat line is far shorter than the buffer: a short read of it is the whole file.
      if (path.endsWith('/stat') && len < scratch.length) break;
    }
    return Buffer.from(scratch.subarray(0, len));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Reads and parses `/proc/<pid>/stat`; `undefined` when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  if (!isValidPid(pid)) return undefined;
  const buf = readProcFile(`${PROC}/${pid}/stat`);
  return buf === undefined ? undefined : parseProcStat(buf.toString('latin1'));
}

/**
 * Parses the text of a stat file. The command name (field 2) is in parentheses and may itself contain
 * spaces and parentheses, so the fields after it are found from the LAST `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  if (rest.length < 20) return undefined;
  const stat: ProcStat = {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0]!,
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    sid: Number(rest[3]),
    startTime: Number(rest[19]),
  };
  return Number.isFinite(stat.startTime) && Number.isFinite(stat.pgid) ? stat : undefined;
}

/** The argument vector from `/proc/<pid>/cmdline`; empty for kernel threads and zombies. */
export function readProcCmdline(pid: number): string[] | undefined {
  if (!isValidPid(pid)) return undefined;
  const buf = readProcFile(`${PROC}/${pid}/cmdline`);
  if (buf === undefined) return undefined;
  const text = buf.toString('utf8');
  if (text.length === 0) return [];
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * The value of one variable in the environment the process was started with (`/proc/<pid>/environ`,
 * readable only for processes of the same user). `undefined` when absent or unreadable.
 */
export function readProcEnvironValue(pid: number, name: string): string | undefined {
  if (!isValidPid(pid)) return undefined;
  const buf = readProcFile(`${PROC}/${pid}/environ`);
  if (buf === undefined) return undefined;
  const text = buf.toString('utf8');
  const prefix = `${name}=`;
  // Match only at the start of an entry (after a NUL) so `XTRELLIS_RUN_ID=` does not count.
  let start: number;
  if (text.startsWith(prefix)) start = prefix.length;
  else {
    const i = text.indexOf(`\0${prefix}`);
    if (i < 0) return undefined;
    start = i + 1 + prefix.length;
  }
  const end = text.indexOf('\0', start);
  return text.slice(start, end < 0 ? text.length : end);
}

/** Zombies (Z) and dead tasks (X) have exited: they only wait to be reaped and cannot be signalled usefully. */
export function isExitedState(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/**
 * True when a process with this PID exists and has not exited (zombies count as dead). With
 * `startTime`, the process must also have that start time, so a reused PID is not mistaken for it.
 */
export function isProcessAlive(pid: number, startTime?: number): boolean {
  const st = readProcStat(pid);
  if (!st || isExitedState(st.state)) return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Every numeric entry of `/proc`, i.e. every process visible in this PID namespace. */
export function listProcessIds(): number[] {
  let names: string[];
  try {
    names = readdirSync(PROC);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      const pid = Number(n);
      if (Number.isInteger(pid)) out.push(pid);
    }
  }
  return out;
}

/** Live (non-zombie) members of a process group, found by scanning `/proc`. */
export function listProcessGroupMembers(pgid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of listProcessIds()) {
    const st = readProcStat(pid);
    if (st && st.pgid === pgid && !isExitedState(st.state)) out.push(st);
  }
  return out;
}

/** The kernel's boot id: it changes at every boot, so it tells whether recorded PIDs are from this boot. */
export function readBootId(): string | undefined {
  try {
    return readFileSync(`${PROC}/sys/kernel/random/boot_id`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The PID namespace of a process, e.g. `pid:[4026531836]`. PIDs from different namespaces are not
 * comparable; `undefined` when unreadable (another user's process).
 */
export function readPidNamespace(pid: number | 'self' = 'self'): string | undefined {
  try {
    return readlinkSync(`${PROC}/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Whether `/proc` is mounted and readable (Linux). */
export function procfsAvailable(): boolean {
  return readProcStat(process.pid) !== undefined;
}

function isValidPid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0;
}
