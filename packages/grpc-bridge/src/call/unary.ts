/**
 * The unary driver over the Call seam (call.ts, whose `run` admits, acquires a worker, retries once
 * and settles): runs `Execute` on the acquired worker's call lane or channel and gives the worker's
 * place back when the RPC settles.
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
import type { ServiceError } from '@grpc/grpc-js';
import { ArrowMissingError } from '../arrow.js';
import { ToolCallError } from '../errors.js';
import type { ExecuteResponse__Output } from '../generated/trellis/bridge/v1/ExecuteResponse.js';
import { decodePayload } from '../payload.js';
import type { InFlightCall, PoolWorker } from '../pool/dispatcher.js';
import { recordToolTelemetry } from '../telemetry/tool-telemetry.js';
import type { Call, CallDriver } from './call.js';
import { exitWaitMs, rpcFailure, unavailable, workerExited } from './errors.js';

/** The unary driver: one `Execute` per attempt. */
class UnaryDriver implements CallDriver<unknown> {
  execute(c: Call, w: PoolWorker): Promise<unknown> {
    return executeOn(c, w);
  }

  /** A unary call delivers nothing before it ends. */
  retryable(): boolean {
    return true;
  }
}

export const unary: CallDriver<unknown> = new UnaryDriver();

/** Runs `Execute` on one worker; the worker's place is given back when the RPC settles. */
function executeOn(c: Call, w: PoolWorker): Promise<unknown> {
  const rt = c.rt;
  const p = c.p;
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
        reject(workerExited(c, exit, w));
      },
    };
    const options = Number.isFinite(left) ? { deadline: new Date(Date.now() + left) } : {};
    const cs = c.span;
    const onResult = (err: ServiceError | null, res?: ExecuteResponse__Output): void => {
      if (settled) return;
      if (!err) {
        finish();
        if (res?.telemetry) recordToolTelemetry(res.telemetry, rt.name, p.tool, cs?.context);
        try {
          resolve(decodePayload(res?.result, p.raw, p.tool));
        } catch (e) {
          reject(
            e instanceof ArrowMissingError
              ? e
              : new ToolCallError(
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
      const failure = rpcFailure(c, err, w, aborted);
      if (failure !== undefined) {
        finish(failure.suspect);
        reject(failure.error);
        return;
      }
      // The connection dropped before the exit event: give the exit a moment to be reported.
      attributionTimer = setTimeout(
        () => {
          if (settled) return;
          finish();
          reject(unavailable(err, p.tool, w.pid));
        },
        exitWaitMs(rt, w),
      );
    };
    // The worker's call lane when it has one (many calls on one socket; the trace context travels
    // in the LaneCall), else a unary RPC carrying the traceparent as gRPC metadata: same callback,
    // same status codes and error trailer, so everything above is shared.
    const lane = w.process.lane;
    const call =
      lane?.usable === true
        ? lane.Execute(p.request, options, onResult, cs?.metadata)
        : cs === undefined
          ? w.client.Execute(p.request, options, onResult)
          : w.client.Execute(p.request, cs.metadata, options, onResult);
    w.calls.add(flight);
    if (signal) {
      signal.addEventListener('abort', onAbort, { once: true });
      // It may have fired while the call waited for its worker.
      if (signal.aborted) onAbort();
    }
  });
}
