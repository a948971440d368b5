/**
 * The log of supervisor events shown on the page. The node's event bus carries the events of every
 * supervisor in the thread, not only the observed tree's, so each is kept only once its supervisor is
 * known to be in the tree. A new sub-supervisor's children start (and emit) during its init, before its
 * parent reports it; those events wait in a bounded pending buffer until the supervisor is known.
 */
import { formatReason, type SupervisorEvent } from '@trellis/core';
import type { EventView } from './snapshot.js';

export class EventLog {
  readonly #size: number;
  readonly #pendingSize: number;
  #seq = 0;
  #log: EventView[] = [];
  #pending: SupervisorEvent[] = [];

  constructor(size: number, pendingSize: number) {
    this.#size = size;
    this.#pendingSize = pendingSize;
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** Logs `e` if its supervisor is known, else holds it back. Returns whether it was logged. */
  add(e: SupervisorEvent, known: (sup: string) => boolean): boolean {
    if (known(e.supervisor)) {
      this.#push(e);
      return true;
    }
    this.#pending.push(e);
    if (this.#pending.length > this.#pendingSize)
      this.#pending.splice(0, this.#pending.length - this.#pendingSize);
    return false;
  }

  /** Logs the held-back events whose supervisor is now known (in their original order). */
  promote(known: (sup: string) => boolean): number {
    if (this.#pending.length === 0) return 0;
    const keep: SupervisorEvent[] = [];
    let n = 0;
    for (const e of this.#pending) {
      if (known(e.supervisor)) {
        this.#push(e);
        n++;
      } else keep.push(e);
    }
    this.#pending = keep;
    return n;
  }

  /** Events with seq > `seq`, oldest first (at most the log's size). */
  since(seq: number): EventView[] {
    if (seq >= this.#seq) return [];
    const i = this.#log.findIndex((v) => v.seq > seq);
    return i < 0 ? [] : this.#log.slice(i);
  }

  /** The newest `n` events, oldest first. */
  last(n: number): EventView[] {
    return n <= 0 ? [] : this.#log.slice(-n);
  }

  #push(e: SupervisorEvent): void {
    this.#log.push(viewOf(e, ++this.#seq));
    if (this.#log.length > this.#size) this.#log.splice(0, this.#log.length - this.#size);
  }
}

export function viewOf(e: SupervisorEvent, seq: number): EventView {
  const base = { seq, at: e.at, type: e.type, supervisor: e.supervisor, supervisorName: e.supervisorName };
  const sup = e.supervisorName ? `${e.supervisorName} ${e.supervisor}` : e.supervisor;
  switch (e.type) {
    case 'supervisor_started':
      return { ...base, text: `supervisor ${sup} started (${e.strategy})` };
    case 'child_started':
      return {
        ...base,
        id: e.id,
        pid: e.pid,
        text: `${e.id} started as ${e.pid} (${e.childType}) under ${sup}`,
      };
    case 'child_start_failed':
      return { ...base, id: e.id, text: `${e.id} failed to start under ${sup}: ${formatReason(e.reason)}` };
    case 'child_exited':
      return { ...base, id: e.id, pid: e.pid, text: `${e.id} ${e.pid} exited: ${formatReason(e.reason)}` };
    case 'child_terminated':
      return {
        ...base,
        id: e.id,
        pid: e.pid,
        text: `${e.id} ${e.pid} terminated: ${formatReason(e.reason)}`,
      };
    case 'child_restarted':
      return {
        ...base,
        id: e.id,
        pid: e.pid,
        text: `${e.id} restarted as ${e.pid}${e.oldPid ? ` (was ${e.oldPid})` : ''}, restarts ${e.restarts}`,
      };
    case 'child_restart_scheduled':
      return { ...base, id: e.id, text: `${e.id} restart #${e.attempt} in ${e.delayMs} ms (backoff)` };
    case 'intensity_reached':
      return {
        ...base,
        text: `supervisor ${sup} reached its restart intensity (${e.intensity} in ${e.periodMs} ms): shutting down`,
      };
    case 'supervisor_shutdown':
      return { ...base, text: `supervisor ${sup} shut down: ${formatReason(e.reason)}` };
  }
}
