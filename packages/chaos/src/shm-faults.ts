/**
 * The two shared-memory faults, aimed at one pool-A worker (faults.ts gives the target and its
 * calls). A result of at least the pool's shmThresholdBytes travels through a memfd the host opens
 * as /proc/<worker>/fd/<n> (or a /dev/shm file it reads), so both faults are about that path:
 *
 *   shm-full            the worker cannot allocate the segment (posix_fallocate fails, EFBIG under a
 *                       file-size cap that stands in for a full /dev/shm): that call fails with
 *                       ERR_SHM_FULL, and the very next call on the same worker succeeds with a
 *                       large result, byte-exact; the worker neither exits nor is replaced.
 *   worker-nondumpable  a tool makes the worker non-dumpable after its lane opened: a host without
 *                       CAP_SYS_PTRACE may no longer open its /proc/<pid>/fd, so its results must
 *                       come as /dev/shm files instead, and still arrive byte-exact.
 *
 * No exit is expected: an exit or a recycle of the worker is unexplained for the matching rule and
 * fails the run by itself; a leftover segment fails the end-of-run check of /dev/shm.
 */
import { readFileSync } from 'node:fs';
import { CHAOS_DEFAULTS } from './defaults.js';
import type { Outcome } from './ledger.js';

/** How a shared-memory fault lands (faults.ts's Landing for a non-fatal pool-A fault). */
export interface ShmLanding {
  readonly status: 'non-fatal' | 'unexpected';
  readonly note: string;
}

/** What a fault needs of its target: calls pinned to it, and the judgement of one that went wrong. */
export interface ShmTarget<L> {
  /** One call on the targeted worker through the ledger; `check` makes a wrong result `wrong`. */
  call<T>(
    tool: string,
    args: Record<string, unknown>,
    check?: (v: T) => string | undefined,
  ): Promise<Outcome>;
  /** A call that did not end as expected: absorbed when another fault ended the worker, else unexpected. */
  ended(code: string, note: string): L;
}

const CALL_TIMEOUT_MS = 5000;

/** An outcome's error code, or its kind when it has none (`unclean`, `wrong`, ...). */
function codeOf(o: Outcome): string {
  if (o.kind === 'error') return o.code;
  if (o.kind === 'unclean' || o.kind === 'wrong') return `${o.kind}: ${o.what}`;
  return o.kind;
}

/** The bytes `pattern(n, seed)` in chaos_tools_a.py returns: byte i is (seed + 7 i) mod 256. */
export function expectedPattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (seed + 7 * i) & 0xff;
  return b;
}

/** undefined when `v` is exactly `pattern(n, seed)`, else what differs (the ledger counts it `wrong`). */
export function patternProblem(v: unknown, n: number, seed: number): string | undefined {
  if (!Buffer.isBuffer(v)) return `not bytes: ${typeof v}`;
  if (v.length !== n) return `${v.length} bytes, not ${n}`;
  const want = expectedPattern(n, seed);
  if (v.equals(want)) return undefined;
  let i = 0;
  while (v[i] === want[i]) i++;
  return `byte ${i} is ${v[i]}, not ${want[i]}`;
}

/**
 * Whether this process has CAP_SYS_PTRACE in effect (bit 19 of CapEff): with it, the kernel lets it
 * open a non-dumpable worker's /proc/<pid>/fd anyway, and the non-dumpable fault proves little. The
 * driver starts the system under test without it when it can (sut-process.ts).
 */
export function hostMayPtrace(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 19n)) !== 0n;
  } catch {
    return false;
  }
}

/** One large result from the target, checked byte for byte. */
function takePattern<L>(t: ShmTarget<L>, seed: number): Promise<Outcome> {
  const n = CHAOS_DEFAULTS.shmResultBytes;
  return t.call<unknown>('pattern', { n, seed }, (v) => patternProblem(v, n, seed));
}

export async function shmFull<L>(t: ShmTarget<L>, seed: number): Promise<ShmLanding | L> {
  const ask = CHAOS_DEFAULTS.shmFullAskBytes;
  const cap = CHAOS_DEFAULTS.shmFullCapBytes;
  const first = await t.call('shm_fill_capped', { n: ask, cap });
  if (first.kind === 'ok')
    return {
      status: 'unexpected',
      note: `a shared buffer of ${ask} bytes under a ${cap}-byte file-size cap was allocated: no ERR_SHM_FULL`,
    };
  const code = codeOf(first);
  if (code !== 'ERR_SHM_FULL') return t.ended(code, `the call with no room ended with ${code}`);
  // The very next call on that worker: it must serve, and shared memory must still work for it.
  const next = await takePattern(t, seed);
  if (next.kind !== 'ok') {
    const c = codeOf(next);
    return t.ended(c, `ERR_SHM_FULL, then the next call on its worker ended with ${c}`);
  }
  return {
    status: 'non-fatal',
    note: `ERR_SHM_FULL for ${ask} bytes over a ${cap}-byte cap; the next call took ${CHAOS_DEFAULTS.shmResultBytes} bytes byte-exact from the same worker`,
  };
}

export async function workerNondumpable<L>(t: ShmTarget<L>, seed: number): Promise<ShmLanding | L> {
  let dumpable = -1;
  const made = await t.call<number>('make_undumpable', {}, (v) => {
    dumpable = v;
    return undefined;
  });
  if (made.kind !== 'ok') {
    const c = codeOf(made);
    return t.ended(c, `make_undumpable ended with ${c}`);
  }
  if (dumpable !== 0) return { status: 'unexpected', note: `PR_GET_DUMPABLE is ${dumpable} after prctl` };
  const o = await takePattern(t, seed);
  if (o.kind !== 'ok') {
    const c = codeOf(o);
    return t.ended(c, `the result of the non-dumpable worker ended with ${c}`);
  }
  const host = hostMayPtrace() ? 'WITH CAP_SYS_PTRACE (proves little)' : 'without CAP_SYS_PTRACE';
  return {
    status: 'non-fatal',
    note: `${CHAOS_DEFAULTS.shmResultBytes} bytes byte-exact from the non-dumpable worker; host ${host}`,
  };
}

export { CALL_TIMEOUT_MS as SHM_CALL_TIMEOUT_MS };
