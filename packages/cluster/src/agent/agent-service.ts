/**
 * The server side of the Agent service (agent-wire.ts): requests from other nodes' pools turned into
 * calls on the hosted-worker set. Every failure is answered as `{ e }` (a serialized TrellisError),
 * never thrown into grpc-js; a node that hosts no set (not an agent, or its agent actor is
 * restarting) refuses with ERR_AGENT_REFUSED.
 */
import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { serializeError } from '@trellis/core';
import { AgentRefusedError } from '../errors.js';
import type { ExitRep, KillRep, LaunchRep, StopReq, WatchEvent, WatchReq, WorkerReq } from './agent-wire.js';
import type { HostedWorkers } from './hosted-workers.js';

const NOT_AGENT =
  'start it as an agent (`trellis agent --cluster <name>`, or startAgent()), or place the pool on agent nodes only';

function workerId(r: unknown): string | undefined {
  const id = (r as { workerId?: unknown } | null)?.workerId;
  return typeof id === 'string' && id.length > 0 && id.length < 1000 ? id : undefined;
}

export function agentServiceHandlers(
  node: string,
  hosted: () => HostedWorkers | undefined,
): UntypedServiceImplementation {
  const set = (): HostedWorkers => {
    const h = hosted();
    if (h === undefined) throw new AgentRefusedError(node, 'this node runs no agent', NOT_AGENT);
    return h;
  };
  const settle = <R>(cb: (e: null, r: R | { e: unknown }) => void, f: () => Promise<R>): void => {
    f().then(
      (r) => cb(null, r),
      (e) => cb(null, { e: serializeError(e) }),
    );
  };
  return {
    Launch: (c: { request: unknown }, cb: (e: null, r: LaunchRep) => void) =>
      settle(cb as never, () => set().launch(c.request)),
    Stop: (c: { request: StopReq }, cb: (e: null, r: ExitRep) => void) =>
      settle(cb as never, async () => {
        const id = workerId(c.request);
        const ms = c.request?.killAfterMs;
        return {
          exit: await set().stop(id ?? '', typeof ms === 'number' && ms >= 0 ? ms : 2000),
        };
      }),
    Kill: (c: { request: WorkerReq }, cb: (e: null, r: KillRep) => void) =>
      settle(cb as never, async () => {
        set().kill(workerId(c.request) ?? '');
        return { ok: true as const };
      }),
    Watch: (s: ServerDuplexStream<WatchReq, WatchEvent>) => {
      let watching: { ping: () => void; end: () => void } | undefined;
      let done = false;
      const answer = (ev: WatchEvent): void => {
        if (done) return;
        done = true;
        watching?.end();
        if (!s.cancelled) {
          s.write(ev);
          s.end();
        }
      };
      s.on('data', (m: WatchReq) => {
        if (done) return;
        if (watching !== undefined) {
          watching.ping();
          return;
        }
        try {
          const r = set().watch(workerId(m) ?? '', (exit) => answer({ exit }));
          if ('exit' in r) answer({ exit: r.exit });
          else watching = r;
        } catch (e) {
          answer({ e: serializeError(e) });
        }
      });
      const gone = (): void => {
        done = true;
        watching?.end();
      };
      s.on('cancelled', gone);
      s.on('error', gone);
      s.on('end', () => {
        // The owner half-closed its side: it no longer pings, the grace rule takes over.
        gone();
        if (!s.cancelled) s.end();
      });
    },
  };
}
