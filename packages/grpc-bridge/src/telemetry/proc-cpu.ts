/**
 * CPU time of a worker process, read by the host from `/proc/<pid>/stat` at each heartbeat (as its
 * RSS is): it counts the whole Python process (every thread, C extensions included), which the
 * worker's own view would not cover any better, and costs the worker nothing.
 */
import { readFileSync } from 'node:fs';

/**
 * Clock ticks per second of utime/stime. Linux reports them in USER_HZ, which is 100 on every
 * architecture Node supports (sysconf(_SC_CLK_TCK) is not reachable from Node without a native
 * module, and the kernel's ABI fixes USER_HZ at 100 for these).
 */
const USER_HZ = 100;

/** User + system CPU seconds of `pid`, or undefined when /proc cannot tell (gone, not Linux). */
export function readCpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: fields are counted after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / USER_HZ;
}
