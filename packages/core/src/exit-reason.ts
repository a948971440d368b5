/**
 * Exit reasons are data: one discriminated union, matched exhaustively.
 *
 *   normal | shutdown | {shutdown, detail} | killed | noproc | {error, cause}
 *
 * `kill` is not a reason but a signal: `exit(pid, 'kill')` cannot be trapped, and the victim exits
 * with `killed` (OTP).
 *
 * No ts-pattern here: every thread actor loads this module while it boots, and ts-pattern costs a
 * few milliseconds of a fresh thread's start (see docs/thread-actors.md, Limits). The `switch` below
 * is exhaustive all the same: a new kind of reason fails to compile at `const never: never`. Code
 * that never runs in a thread's boot path matches reasons with ts-pattern (task-pool.ts).
 */
import { describeValue, deserializeError, isSerializedError, serializeError } from './errors.js';

export type ExitReason =
  | { readonly type: 'normal' }
  | { readonly type: 'shutdown'; readonly detail?: unknown }
  | { readonly type: 'killed' }
  | { readonly type: 'noproc' }
  | { readonly type: 'error'; readonly cause: unknown };

/** What `exit(pid, signal)` accepts: a reason, or the untrappable `kill`. */
export type ExitSignal = ExitReason | 'kill';

const NORMAL: ExitReason = Object.freeze({ type: 'normal' });
const SHUTDOWN: ExitReason = Object.freeze({ type: 'shutdown' });
const KILLED: ExitReason = Object.freeze({ type: 'killed' });
const NOPROC: ExitReason = Object.freeze({ type: 'noproc' });

export const Exit = Object.freeze({
  normal: NORMAL,
  shutdown: (detail?: unknown): ExitReason =>
    detail === undefined ? SHUTDOWN : { type: 'shutdown', detail },
  killed: KILLED,
  noproc: NOPROC,
  error: (cause: unknown): ExitReason => ({ type: 'error', cause }),
});

/** `normal`, `shutdown` and `{shutdown, _}`: the reasons a transient child is not restarted for. */
export function isCleanExit(r: ExitReason): boolean {
  return r.type === 'normal' || r.type === 'shutdown';
}

export function isExitReason(v: unknown): v is ExitReason {
  if (typeof v !== 'object' || v === null) return false;
  const t = (v as { type?: unknown }).type;
  return t === 'normal' || t === 'shutdown' || t === 'killed' || t === 'noproc' || t === 'error';
}

export function formatReason(r: ExitReason): string {
  switch (r.type) {
    case 'normal':
    case 'killed':
    case 'noproc':
      return r.type;
    case 'shutdown':
      return r.detail === undefined ? 'shutdown' : `{shutdown, ${describeValue(r.detail)}}`;
    case 'error': {
      const c = r.cause;
      if (c instanceof Error) return `{error, ${c.name}: ${c.message}}`;
      return `{error, ${describeValue(c)}}`;
    }
    default: {
      const never: never = r;
      return `{unknown reason ${describeValue(never)}}`;
    }
  }
}

/** Plain-data form for crossing a thread boundary: Error causes become SerializedError. */
export function encodeReason(r: ExitReason): ExitReason {
  if (r.type === 'error' && r.cause instanceof Error)
    return { type: 'error', cause: serializeError(r.cause) };
  if (r.type === 'shutdown' && r.detail instanceof Error)
    return { type: 'shutdown', detail: serializeError(r.detail) };
  return r;
}

/** Inverse of encodeReason: causes come back as Error objects (TrellisError when they had a code). */
export function decodeReason(r: ExitReason): ExitReason {
  if (r.type === 'error' && isSerializedError(r.cause))
    return { type: 'error', cause: deserializeError(r.cause) };
  return r;
}
