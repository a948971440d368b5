/**
 * A process mailbox with selective receive.
 *
 * Messages are kept in arrival order. `take(matcher)` removes and returns the first message that
 * matches, leaving earlier non-matching ones in place (Erlang's save queue), so a process can wait
 * for one kind of message while others pile up behind it.
 *
 * The array grows at the tail and is consumed from `head`; it is compacted only when the consumed
 * prefix dominates, so the common "take the first message" path is O(1).
 */
import { createRequire } from 'node:module';

export type Matcher<T = unknown> = ((msg: unknown) => boolean) | MatchPattern<T>;
/** A ts-pattern pattern (or any plain value compared structurally). */
export type MatchPattern<_T = unknown> = object | string | number | boolean | null;

export const NO_MESSAGE: unique symbol = Symbol('trellis.no_message');

type IsMatching = (pattern: unknown, value: unknown) => boolean;
let isMatching: IsMatching | undefined;

/**
 * ts-pattern's `isMatching`, loaded on the first receive with a pattern. Every thread actor loads this
 * module while it boots, and ts-pattern costs a few milliseconds of a fresh thread's start, for a
 * feature most actors never use. `toPredicate` must answer synchronously, so this loads ts-pattern's
 * CommonJS build. A second copy of ts-pattern next to the caller's ES module copy is harmless:
 * ts-pattern marks its `P.*` matchers with registered symbols (`Symbol.for`), which every copy
 * recognises.
 */
function loadIsMatching(): IsMatching {
  isMatching ??= (createRequire(import.meta.url)('ts-pattern') as typeof import('ts-pattern'))
    .isMatching as IsMatching;
  return isMatching;
}

export function toPredicate(m: Matcher | undefined): ((msg: unknown) => boolean) | undefined {
  if (m === undefined) return undefined;
  if (typeof m === 'function') return m as (msg: unknown) => boolean;
  const pattern = m;
  const matches = loadIsMatching();
  return (msg) => matches(pattern, msg);
}

export class Mailbox {
  #items: unknown[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(msg: unknown): void {
    this.#items.push(msg);
  }

  /** Removes and returns the first message accepted by `pred` (any message without one). */
  take(pred?: (msg: unknown) => boolean): unknown | typeof NO_MESSAGE {
    const items = this.#items;
    if (this.#head >= items.length) return NO_MESSAGE;
    if (pred === undefined) {
      const m = items[this.#head];
      items[this.#head++] = undefined;
      this.#compact();
      return m;
    }
    for (let i = this.#head; i < items.length; i++) {
      const m = items[i];
      if (pred(m)) {
        if (i === this.#head) {
          items[this.#head++] = undefined;
          this.#compact();
        } else {
          items.splice(i, 1);
        }
        return m;
      }
    }
    return NO_MESSAGE;
  }

  /** Removes every message accepted by `pred` (used by demonitor's flush). */
  remove(pred: (msg: unknown) => boolean): number {
    const before = this.size;
    const kept = this.#items.slice(this.#head).filter((m) => !pred(m));
    this.#items = kept;
    this.#head = 0;
    return before - kept.length;
  }

  /** Reallocates the storage at the live size (hibernate: drops a large, mostly consumed array). */
  compact(): void {
    this.#items = this.#items.slice(this.#head);
    this.#head = 0;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  #compact(): void {
    const h = this.#head;
    if (h === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (h > 1024 && h * 2 > this.#items.length) {
      this.#items = this.#items.slice(h);
      this.#head = 0;
    }
  }
}
