/** Fan-out of health events: to in-thread listeners (callbacks) and to subscribed processes (messages). */
import type { ActorContext, Pid, Ref } from '@trellis/core';
import type { HealthEvent, HealthEventMessage, HealthListener } from './health-events.js';

export class HealthEmitter {
  readonly #ctx: ActorContext;
  readonly #listeners = new Set<HealthListener>();
  readonly #subscribers = new Map<Pid, Ref>();

  constructor(ctx: ActorContext) {
    this.#ctx = ctx;
  }

  emit(e: HealthEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // A faulty listener must not take the monitor down.
      }
    }
    if (this.#subscribers.size === 0 || !this.#ctx.alive) return;
    const msg: HealthEventMessage = { type: '$health_event', event: e };
    for (const pid of this.#subscribers.keys()) {
      try {
        this.#ctx.send(pid, msg);
      } catch {
        // A subscriber that cannot be reached is dropped when its DOWN arrives.
      }
    }
  }

  on(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  subscribe(pid: Pid): void {
    if (this.#subscribers.has(pid)) return;
    // A callback monitor: a dead subscriber is forgotten at once, without a message to the monitor.
    const ref = this.#ctx.node.monitor(() => this.#subscribers.delete(pid), pid);
    this.#subscribers.set(pid, ref);
  }

  unsubscribe(pid: Pid): void {
    const ref = this.#subscribers.get(pid);
    if (ref === undefined) return;
    this.#subscribers.delete(pid);
    this.#ctx.node.demonitor(ref);
  }

  close(): void {
    for (const ref of this.#subscribers.values()) this.#ctx.node.demonitor(ref);
    this.#subscribers.clear();
    this.#listeners.clear();
  }
}
