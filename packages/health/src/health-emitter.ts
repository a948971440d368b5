/** Fan-out of health events: to in-thread listeners (callbacks) and to subscribed processes (messages). */
import { type ActorContext, EventFanout } from '@trellis/core';
import type { HealthEvent, HealthEventMessage } from './health-events.js';

/** The monitor's events: subscribers get them as `$health_event` messages while the monitor lives. */
export class HealthEmitter extends EventFanout<HealthEvent> {
  constructor(ctx: ActorContext) {
    super(
      ctx.node,
      (event) => ({ type: '$health_event', event }) satisfies HealthEventMessage,
      () => ctx.alive,
    );
  }

  emit(e: HealthEvent): void {
    this.publish(e);
  }
}
