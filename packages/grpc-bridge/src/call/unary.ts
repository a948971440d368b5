/**
 * One unary tool call through the pool: take a worker (at once, or after waiting in the queue),
 * run `Execute` on its channel, give the slot back.
 *
 * Failure paths, each settling the call exactly once:
 *   - the worker's process exits: the dispatcher tells every call on it at once (onWorkerExit),
 *     which cancels the RPC and fails with ERR_WORKER_EXITED carrying the exit code or signal;
 *   - the RPC fails at the transport level first (the socket closed a moment before the exit event
 *     arrived): the call waits up to exitAttributionMs for the exit, so it still fails with
 *     ERR_WORKER_EXITED, else with ERR_WORKER_UNAVAILABLE;
 *   - the AbortSignal fires: the RPC is cancelled (Python sees ctx.cancelled) -> ERR_CANCELLED;
 *   - the deadline passes: gRPC's own deadline cancels it (Python sees it too) -> ERR_DEADLINE_EXCEEDED;
 *   - the worker answers with an error status: mapped by call/errors.ts.
 * An idempotent call that failed because its worker died (or refused it while draining) is retried
 * once on another worker, at the front of the queue, within the same overall budget.
 */
import { type ServiceError, status } from '@grpc/grpc-js';
import type { TrellisError } from '@trellis/core';
import { ToolCallError, type WorkerExit, WorkerExitedError } from '../errors.js';
import type { ExecuteResponse__Output } from '../generated/trellis/bridge/v1/ExecuteResponse.js';
import { decodePayload, type ToolArgs } from '../payload.js';
import type { InFlightCall, SlotRequest, WorkerEntry } from '../pool/dispatcher.js';
import type { CallOptions } from '../pool/options.js';
import type { PoolRuntime } from '../pool/runtime.js';
import { mapCallError, TRANSPORT, unavailable } from './errors.js';
import { admitCall, recordOutcome, slotRequest } from './gate.js';
import { type PreparedCall, prepareCall } from './prep.js';

export async function callTool(
  rt: PoolRuntime,
  tool: string,
  args: ToolArgs,
  opts: CallOptions,
): Promise<unknown> {
  const clock = rt.o.clock;
  const t0 = clock.now();
  const callId = rt.nextCallId();
  rt.counters.started++;
  let worker: WorkerEntry | undefined;
  let admitted = false;
  try {
    const p = prepareCall(rt, tool, args, opts, false, t0, callId);
    const session = admitCall(rt, tool, opts);
    admitted = true;
    let exclude: Set<number> | undefined;
    for (let attempt = 0; ; attempt++) {
      const req = slotRequest(rt, tool, opts, session, attempt, exclude);
      worker = rt.dispatcher.tryAcquire(req);
      if (worker === undefined) {
        rt.dispatcher.checkAffinity(req);
        worker = await waitForWorker(rt, p, req, attempt);
      }
      if (rt.events.active) {
        rt.events.emit({
          type: 'call_started',
          callId,
          tool,
          workerId: worker.id,
          pid: worker.pid,
          queuedMs: clock.now() - t0,
          attempt,
        });
      }
      try {
        const result = await executeOn(rt, worker, p);
        const ms = clock.now() - t0;
        worker.served++;
        rt.counters.ok(ms);
        if (rt.breaker !== undefined) recordOutcome(rt, undefined);
        if (rt.events.active)
          rt.events.emit({
            type: 'call_finished',
            callId,
            tool,
            workerId: worker.id,
            pid: worker.pid,
            durationMs: ms,
          });
        return result;
      } catch (e) {
        if (attempt === 0 && shouldRetry(e, p, worker) && clock.now() < p.deadline) {
          exclude ??= new Set();
          exclude.add(worker.id);
          rt.counters.retried++;
          if (rt.events.active)
            rt.events.emit({
              type: 'call_retried',
              callId,
              tool,
              fromWorkerId: worker.id,
              code: (e as TrellisError).code,
            });
          continue;
        }
        throw e;
      }
    }
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    rt.counters.fail(typeof code === 'string' ? code : 'ERR_UNKNOWN', undefined);
    if (admitted && rt.breaker !== undefined)
      recordOutcome(rt, typeof code === 'string' ? code : 'ERR_UNKNOWN');
    if (rt.events.active) {
      rt.events.emit({
        type: 'call_failed',
        callId,
        tool,
        workerId: worker?.id,
        pid: worker?.pid,
        durationMs: clock.now() - t0,
        code: typeof code === 'string' ? code : 'ERR_UNKNOWN',
        message: (e as Error).message,
      });
    }
    throw e;
  }
}

export function waitForWorker(
  rt: PoolRuntime,
  p: PreparedCall,
  req: SlotRequest,
  attempt: number,
): Promise<WorkerEntry> {
  const left = p.deadline - rt.o.clock.now();
  return rt.dispatcher.enqueue(req, {
    waitMs: Math.min(rt.o.queueTimeoutMs, left),
    limitMs: Math.min(rt.o.queueTimeoutMs, p.timeoutMs),
    signal: p.signal,
    front: attempt > 0,
  });
}

/** A worker death (or a refusal while it drained, which means the tool never ran) is worth one retry. */
export function shouldRetry(e: unknown, p: PreparedCall, w: WorkerEntry): boolean {
  if (e instanceof WorkerExitedError) return p.idempotent;
  if (e instanceof ToolCallError && e.code === 'ERR_WORKER_UNAVAILABLE')
    return p.idempotent || w.state === 'draining';
  return false;
}

/** The error of a call whose worker's process exited under it. */
export function workerExited(exit: WorkerExit, p: PreparedCall, w: WorkerEntry): WorkerExitedError {
  let why: string;
  if (w.drained) {
    why = 'the worker was being shut down and the call did not finish within its drain grace (graceMs)';
  } else if (p.idempotent) {
    why = 'the call was idempotent but had already been retried once, or its budget ran out';
  } else {
    why =
      'the call was not retried because it is not idempotent (pass { idempotent: true } if running it twice is safe)';
  }
  return new WorkerExitedError(exit, { tool: p.tool, why });
}

/** Runs `Execute` on one worker; the slot is released when the call settles. */
function executeOn(rt: PoolRuntime, w: WorkerEntry, p: PreparedCall): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const left = p.deadline - rt.o.clock.now();
    if (left <= 0) {
      rt.dispatcher.release(w);
      reject(
        new ToolCallError(
          'ERR_DEADLINE_EXCEEDED',
          `call to "${p.tool}" used up its timeoutMs (${p.timeoutMs} ms) before it reached a worker; raise timeoutMs`,
          {
            tool: p.tool,
          },
        ),
      );
      return;
    }
    let settled = false;
    let aborted = false;
    let attributionTimer: ReturnType<typeof setTimeout> | undefined;
    const signal = p.signal;
    const onAbort = (): void => {
      aborted = true;
      call.cancel();
    };
    const finish = (suspect = false): void => {
      settled = true;
      w.calls.delete(flight);
      if (signal) signal.removeEventListener('abort', onAbort);
      if (attributionTimer !== undefined) clearTimeout(attributionTimer);
      rt.dispatcher.release(w, suspect);
    };
    const flight: InFlightCall = {
      tool: p.tool,
      onWorkerExit(exit) {
        if (settled) return;
        finish();
        call.cancel();
        reject(workerExited(exit, p, w));
      },
    };
    const options = Number.isFinite(left) ? { deadline: new Date(Date.now() + left) } : {};
    const call = w.client.Execute(
      p.request,
      options,
      (err: ServiceError | null, res?: ExecuteResponse__Output) => {
        if (settled) return;
        if (!err) {
          finish();
          try {
            resolve(decodePayload(res?.result, p.raw));
          } catch (e) {
            reject(
              new ToolCallError(
                'ERR_TRANSPORT',
                `the result of "${p.tool}" is labelled JSON but does not parse: ${(e as Error).message}`,
                {
                  tool: p.tool,
                  workerPid: w.pid,
                },
              ),
            );
          }
          return;
        }
        const mapped = mapCallError(err, {
          tool: p.tool,
          workerPid: w.pid,
          timeoutMs: p.timeoutMs,
          maxMessageBytes: rt.o.maxMessageBytes,
          aborted,
          abortReason: signal?.reason,
        });
        if (mapped !== TRANSPORT) {
          // Ended by its deadline or a cancellation: the tool may not have stopped (see release).
          finish(err.code === status.DEADLINE_EXCEEDED || err.code === status.CANCELLED);
          reject(mapped);
          return;
        }
        const exit = w.process.exit;
        if (exit !== undefined) {
          finish();
          reject(workerExited(exit, p, w));
          return;
        }
        // The connection dropped before the exit event: give the exit a moment to be reported.
        attributionTimer = setTimeout(() => {
          if (settled) return;
          finish();
          reject(unavailable(err, p.tool, w.pid));
        }, rt.o.exitAttributionMs);
      },
    );
    w.calls.add(flight);
    if (signal) {
      signal.addEventListener('abort', onAbort, { once: true });
      // It may have fired while the call waited for its worker.
      if (signal.aborted) onAbort();
    }
  });
}
