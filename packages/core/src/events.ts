/**
 * Structured supervisor events. Supervisors publish them on their thread's event bus; any actor can
 * subscribe (it receives `{ type: '$sup_event', event }` messages and is unsubscribed when it exits),
 * and plain code can add listeners. The health monitor and the observer are built on these.
 */
import { EventFanout } from './event-fanout.js';
import type { ExitReason } from './exit-reason.js';
import type { Node } from './node.js';
import type { Pid } from './pid.js';

interface EventBase {
  /** The supervisor that emitted the event (and its registered name, if any). */
  readonly supervisor: Pid;
  readonly supervisorName?: string | undefined;
  /** Wall-clock time of the event, ms since the epoch. */
  readonly at: number;
}

export type SupervisorEvent =
  | (EventBase & {
      readonly type: 'supervisor_started';
      readonly strategy: string;
      readonly parent?: Pid | undefined;
      /** Its restart intensity (OTP's MaxR within periodMs), for operators' tools. */
      readonly intensity?: number | undefined;
      readonly periodMs?: number | undefined;
    })
  | (EventBase & {
      readonly type: 'child_started';
      readonly id: string;
      readonly pid: Pid;
      readonly childType: string;
    })
  | (EventBase & { readonly type: 'child_start_failed'; readonly id: string; readonly reason: ExitReason })
  | (EventBase & {
      readonly type: 'child_exited';
      readonly id: string;
      readonly pid: Pid;
      readonly reason: ExitReason;
    })
  | (EventBase & {
      readonly type: 'child_terminated';
      readonly id: string;
      readonly pid: Pid;
      readonly reason: ExitReason;
    })
  | (EventBase & {
      readonly type: 'child_restarted';
      readonly id: string;
      readonly pid: Pid;
      readonly oldPid?: Pid | undefined;
      readonly restarts: number;
    })
  | (EventBase & {
      readonly type: 'child_restart_scheduled';
      readonly id: string;
      readonly delayMs: number;
      readonly attempt: number;
    })
  | (EventBase & {
      readonly type: 'intensity_reached';
      readonly intensity: number;
      readonly periodMs: number;
    })
  | (EventBase & { readonly type: 'supervisor_shutdown'; readonly reason: ExitReason });

export interface SupervisorEventMessage {
  readonly type: '$sup_event';
  readonly event: SupervisorEvent;
}

export type EventListener = (e: SupervisorEvent) => void;

/** A thread's supervisor events: every subscriber gets them as `$sup_event` messages. */
export class EventBus extends EventFanout<SupervisorEvent> {
  constructor(node: Node) {
    super(node, (event) => ({ type: '$sup_event', event }) satisfies SupervisorEventMessage);
  }
}

const buses = new WeakMap<Node, EventBus>();

export function eventBus(node: Node): EventBus {
  let b = buses.get(node);
  if (!b) {
    b = new EventBus(node);
    buses.set(node, b);
  }
  return b;
}
