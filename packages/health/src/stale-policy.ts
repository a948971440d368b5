/**
 * What happens when an actor turns stale: report (nothing), kill (the actor), escalate (its
 * supervisor, or the configured escalation target).
 */
import { type ActorContext, isPid, type Pid } from '@trellis/core';
import type { HealthEvent } from './health-events.js';
import type { Slot } from './health-state.js';

export function applyStalePolicy(
  slot: Slot,
  ctx: ActorContext,
  at: number,
  emit: (e: HealthEvent) => void,
): void {
  if (slot.policy === 'report' || !ctx.alive) return;
  if (slot.policy === 'kill') {
    // Untrappable: the actor exits with `killed` and its supervisor restarts it.
    emit({ type: 'action', key: slot.key, pid: slot.pid, action: 'kill', target: slot.pid, at });
    ctx.exit(slot.pid, 'kill');
    return;
  }
  const target = resolve(ctx, slot.escalateTo);
  if (target === undefined || target === ctx.self) {
    const error =
      target === ctx.self
        ? 'the escalation target is the health monitor itself; escalate to a supervisor'
        : `escalation target ${String(slot.escalateTo)} is not running`;
    emit({ type: 'action', key: slot.key, pid: slot.pid, action: 'escalate', target: null, at, error });
    return;
  }
  // A supervisor traps exits and ignores an EXIT from anyone but its parent and children, so only
  // `kill` takes it down (OTP's exit(Sup, kill)); its own supervisor then restarts the subtree.
  emit({ type: 'action', key: slot.key, pid: slot.pid, action: 'escalate', target, at });
  ctx.exit(target, 'kill');
}

function resolve(ctx: ActorContext, target: Pid | string | undefined): Pid | undefined {
  if (target === undefined) return undefined;
  if (isPid(target)) return target;
  return ctx.whereis(target);
}
