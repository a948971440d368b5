/**
 * One family of events fanned out to in-thread listeners (callbacks) and to subscribed processes
 * (messages), each subscriber forgotten as soon as it exits. The supervisors' event bus (events.ts)
 * and the health monitor's emitter are both this; it was written out in each of them.
 */
import type { Node } from './node.js';
import type { Pid, Ref } from './pid.js';

export class EventFanout<E> {
  readonly #node: Node;
  readonly #message: (e: E) => unknown;
  readonly #canSend: () => boolean;
  readonly #listeners = new Set<(e: E) => void>();
  readonly #subscribers = new Map<Pid, Ref>();

  /**
   * `message` wraps an event for subscribers (`{ type: '$sup_event', event }`, ...); `canSend` says
   * whether the publisher may still send (a monitor that is closing sends nothing).
   */
  constructor(node: Node, message: (e: E) => unknown, canSend: () => boolean = () => true) {
    this.#node = node;
    this.#message = message;
    this.#canSend = canSend;
  }

  /** Someone listens: publishers skip building events nobody would get. */
  get active(): boolean {
    return this.#listeners.size > 0 || this.#subscribers.size > 0;
  }

  publish(e: E): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // A faulty listener must not take the publisher (a supervisor, the monitor) down with it.
      }
    }
    if (this.#subscribers.size === 0 || !this.#canSend()) return;
    const msg = this.#message(e);
    for (const pid of this.#subscribers.keys()) {
      try {
        this.#node.send(pid, msg);
      } catch {
        // An event that cannot be cloned to another thread, or a subscriber that cannot be reached,
        // is dropped for that subscriber only (a dead one is forgotten when its DOWN arrives).
      }
    }
  }

  /** Adds a listener; returns a function that removes it. */
  on(listener: (e: E) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends every event to `pid` as a message until it exits or unsubscribes. */
  subscribe(pid: Pid): void {
    if (this.#subscribers.has(pid)) return;
    // A callback monitor: a dead subscriber is forgotten at once, without a message to the publisher.
    const ref = this.#node.monitor(() => this.#subscribers.delete(pid), pid);
    this.#subscribers.set(pid, ref);
  }

  unsubscribe(pid: Pid): void {
    const ref = this.#subscribers.get(pid);
    if (ref === undefined) return;
    this.#subscribers.delete(pid);
    this.#node.demonitor(ref);
  }

  /** Drops every listener and subscriber. */
  close(): void {
    for (const ref of this.#subscribers.values()) this.#node.demonitor(ref);
    this.#subscribers.clear();
    this.#listeners.clear();
  }
}
