/**
 * What every call (unary or stream) passes before it asks for a worker, and reports when it ends:
 * the tool's quarantine, the pool's circuit breaker, and its session (affinity). Kept apart from the
 * call paths so both share one definition; each check is a Map lookup or less when unused.
 */

import { CircuitOpenError, ToolQuarantinedError } from '../errors.js';
import type { SlotRequest } from '../pool/dispatcher.js';
import type { AffinityMode, CallOptions } from '../pool/options.js';
import type { PoolRuntime } from '../pool/runtime.js';
import type { Session } from '../pool/sessions.js';

/** Refuses a quarantined tool or an open circuit; returns the call's session (created on first use). */
export function admitCall(rt: PoolRuntime, tool: string, opts: CallOptions): Session | undefined {
  const now = rt.o.clock.now();
  const q = rt.quarantine;
  if (q !== undefined) {
    const left = q.refusedFor(tool, now);
    if (left > 0) throw new ToolQuarantinedError(rt.name, tool, q.options.crashes, q.options.windowMs, left);
  }
  const b = rt.breaker;
  if (b !== undefined) {
    const left = b.admit(now);
    if (left > 0) throw new CircuitOpenError(rt.name, tool, b.failuresWhenOpened, left);
  }
  return opts.sessionId === undefined ? undefined : rt.sessions.touch(opts.sessionId, now);
}

export function slotRequest(
  rt: PoolRuntime,
  tool: string,
  opts: CallOptions,
  session: Session | undefined,
  attempt: number,
  exclude: ReadonlySet<number> | undefined,
): SlotRequest {
  const affinity: AffinityMode | undefined =
    session === undefined ? undefined : (opts.affinity ?? session.affinity ?? rt.o.affinity);
  return { tool, sessionId: opts.sessionId, attempt, exclude, session, affinity };
}

/** A call ended (code undefined: success); feeds the circuit breaker. */
export function recordOutcome(rt: PoolRuntime, code: string | undefined): void {
  const b = rt.breaker;
  if (b === undefined) return;
  const changed = b.record(code, rt.o.clock.now());
  if (changed !== undefined && rt.events.active) rt.events.emit({ type: 'circuit_changed', state: changed });
}
