/**
 * gen_statem's events, actions and callback results, as tagged data (OTP's tuples).
 *
 * Events are one discriminated union on `type`, so a handler matches them exhaustively with
 * ts-pattern (`match(event).with({ type: 'call', content: 'get' }, ...).exhaustive()`). Results are
 * tagged with a symbol, so a data value of any shape can never be mistaken for a result.
 */
import type { ExitReason } from '../exit-reason.js';
import type { CallFrom } from '../signals.js';

export const STATEM: unique symbol = Symbol('trellis.gen_statem.result');

/** Every event a state machine handles (OTP's EventType x EventContent). */
export type StatemEvent<Call = unknown, Cast = unknown, Info = unknown> =
  | { readonly type: 'call'; readonly from: CallFrom; readonly content: Call }
  | { readonly type: 'cast'; readonly content: Cast }
  | { readonly type: 'info'; readonly content: Info }
  /** The event time-out (OTP's `timeout`): no event arrived in time. */
  | { readonly type: 'timeout'; readonly content: unknown }
  | { readonly type: 'state_timeout'; readonly content: unknown }
  /** A generic time-out (OTP's `{timeout, Name}`). */
  | { readonly type: 'generic_timeout'; readonly name: string; readonly content: unknown }
  /** Inserted by a `nextEvent` action. */
  | { readonly type: 'internal'; readonly content: unknown };

/** A state enter call (with `stateEnter: true`): the machine has just entered its state. */
export interface EnterEvent<St> {
  readonly type: 'enter';
  readonly oldState: St;
}

/** An event a `nextEvent` action may insert. */
export type InsertableEvent =
  | { readonly type: 'internal'; readonly content: unknown }
  | { readonly type: 'cast'; readonly content: unknown }
  | { readonly type: 'info'; readonly content: unknown };

export type StatemAction =
  | { readonly a: 'reply'; readonly from: CallFrom; readonly value: unknown }
  | { readonly a: 'postpone' }
  | { readonly a: 'next_event'; readonly event: InsertableEvent }
  | {
      readonly a: 'timeout';
      readonly kind: 'timeout' | 'state_timeout';
      readonly ms: number;
      readonly content: unknown;
    }
  | { readonly a: 'generic_timeout'; readonly name: string; readonly ms: number; readonly content: unknown }
  | {
      readonly a: 'cancel';
      readonly kind: 'timeout' | 'state_timeout' | 'generic_timeout';
      readonly name?: string;
    }
  | { readonly a: 'hibernate' };

export type StatemResult<St, D> =
  | {
      readonly [STATEM]: 'next';
      readonly state: St;
      readonly data: D;
      readonly actions: readonly StatemAction[];
    }
  | {
      readonly [STATEM]: 'keep';
      readonly data?: D;
      readonly keepData: boolean;
      readonly actions: readonly StatemAction[];
    }
  | {
      readonly [STATEM]: 'repeat';
      readonly data?: D;
      readonly keepData: boolean;
      readonly actions: readonly StatemAction[];
    }
  | {
      readonly [STATEM]: 'stop';
      readonly reason: ExitReason;
      readonly data?: D;
      readonly keepData: boolean;
      readonly replies: readonly StatemAction[];
    };

const NONE: readonly StatemAction[] = Object.freeze([]);

/** {next_state, State, Data, Actions} (also init's {ok, State, Data, Actions}). */
export const nextState = <St, D>(
  state: St,
  data: D,
  actions: readonly StatemAction[] = NONE,
): StatemResult<St, D> => ({
  [STATEM]: 'next',
  state,
  data,
  actions,
});
// keep_state and repeat_state differ only in their tag: one builder each for "new data" and "same data".
const withData = <D>(
  tag: 'keep' | 'repeat',
  data: D,
  actions: readonly StatemAction[],
): StatemResult<never, D> => ({ [STATEM]: tag, data, keepData: false, actions });
const sameData = (tag: 'keep' | 'repeat', actions: readonly StatemAction[]): StatemResult<never, never> => ({
  [STATEM]: tag,
  keepData: true,
  actions,
});
/** {keep_state, Data, Actions}. */
export const keepState = <D>(data: D, actions: readonly StatemAction[] = NONE): StatemResult<never, D> =>
  withData('keep', data, actions);
/** keep_state_and_data / {keep_state_and_data, Actions}. */
export const keepStateAndData = (actions: readonly StatemAction[] = NONE): StatemResult<never, never> =>
  sameData('keep', actions);
/** {repeat_state, Data, Actions}: like keep, but the state enter call runs again and postponed events are retried. */
export const repeatState = <D>(data: D, actions: readonly StatemAction[] = NONE): StatemResult<never, D> =>
  withData('repeat', data, actions);
/** repeat_state_and_data / {repeat_state_and_data, Actions}. */
export const repeatStateAndData = (actions: readonly StatemAction[] = NONE): StatemResult<never, never> =>
  sameData('repeat', actions);
/** {stop, Reason, Data} / {stop_and_reply, Reason, Replies, Data} (data left out: keep it). */
export function stopStatem<D>(
  reason: ExitReason,
  data?: D,
  replies: readonly StatemAction[] = NONE,
): StatemResult<never, D> {
  return data === undefined
    ? { [STATEM]: 'stop', reason, keepData: true, replies }
    : { [STATEM]: 'stop', reason, data, keepData: false, replies };
}

// ---- actions -----------------------------------------------------------------------------------------

export const replyAction = (from: CallFrom, value: unknown): StatemAction => ({ a: 'reply', from, value });
const POSTPONE: StatemAction = Object.freeze({ a: 'postpone' });
export const postpone = (): StatemAction => POSTPONE;
export const nextEvent = (type: InsertableEvent['type'], content: unknown): StatemAction => ({
  a: 'next_event',
  event: { type, content },
});
/** OTP's {timeout, T, Content}: fires when no event arrives within `ms`; any event cancels it. */
export const eventTimeout = (ms: number, content: unknown = undefined): StatemAction => ({
  a: 'timeout',
  kind: 'timeout',
  ms,
  content,
});
/** {state_timeout, T, Content}: fires unless the state changes first. */
export const stateTimeout = (ms: number, content: unknown = undefined): StatemAction => ({
  a: 'timeout',
  kind: 'state_timeout',
  ms,
  content,
});
/** {{timeout, Name}, T, Content}: fires unless cancelled or set again. */
export const genericTimeout = (name: string, ms: number, content: unknown = undefined): StatemAction => ({
  a: 'generic_timeout',
  name,
  ms,
  content,
});
export const cancelTimeout = (kind: 'timeout' | 'state_timeout' | { readonly name: string }): StatemAction =>
  typeof kind === 'string'
    ? { a: 'cancel', kind }
    : { a: 'cancel', kind: 'generic_timeout', name: kind.name };
const HIBERNATE: StatemAction = Object.freeze({ a: 'hibernate' });
export const hibernateAction = (): StatemAction => HIBERNATE;
