/**
 * OTP's hibernate for the many-idle-actors case. The BEAM throws away the process's stack and
 * garbage-collects its heap; a JS process has no heap of its own to collect, so what we can give back
 * is what the process holds: its mailbox storage (reallocated at its live size; a mailbox that once
 * held many messages keeps a large backing array otherwise) and its empty bookkeeping containers.
 * The memory returns at V8's next garbage collection.
 */
import type { Proc } from './process.js';

export function hibernateProc(proc: Proc): void {
  proc.mailbox.compact();
  if (proc.inboundCalls !== undefined && proc.inboundCalls.size === 0) proc.inboundCalls = undefined;
  if (proc.monitorNames !== undefined && proc.monitorNames.size === 0) proc.monitorNames = undefined;
}
