/**
 * The server side of the node-to-node service: what other nodes may ask of this one (wire.ts).
 * A request meant for another incarnation of this node, or for a process that is gone, is answered
 * noproc; anything malformed is refused the same way, never thrown into grpc-js.
 */
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  call as coreCall,
  decodeReason,
  type ExitReason,
  encodeReason,
  isExitReason,
  isPid,
  type Node,
  NoProcError,
  noprocError,
  type Pid,
  serializeError,
} from '@trellis/core';
import type {
  Ack,
  CallRep,
  CallReq,
  ExitReq,
  MonitorEvent,
  MonitorReq,
  PingRep,
  SendReq,
  Target,
} from './wire.js';

/** What the service needs of the node it serves. */
export interface ServiceHost {
  readonly node: string;
  readonly incarnation: number;
  readonly local: Node;
  /** The local pid holding a global name of this node. */
  localName(name: string): Pid | undefined;
}

function isTarget(to: unknown): to is Target {
  if (typeof to !== 'object' || to === null) return false;
  const t = to as Record<string, unknown>;
  return typeof t.name === 'string' || isPid(t.pid);
}

export function nodeServiceHandlers(host: ServiceHost): UntypedServiceImplementation {
  const alive = (pid: Pid) => !host.local.isLocal(pid) || host.local.procs.has(pid);
  const resolve = (inc: unknown, to: unknown): Pid | undefined => {
    if (inc !== host.incarnation || !isTarget(to)) return undefined;
    if ('name' in to) return host.localName(to.name);
    return alive(to.pid) ? to.pid : undefined;
  };
  return {
    Call: (c: { request: CallReq }, cb: (e: null, r: CallRep) => void) => {
      const r = c.request ?? ({} as CallReq);
      const pid = resolve(r.inc, r.to);
      if (pid === undefined) {
        const byName = isTarget(r.to) && 'name' in r.to;
        const what = byName ? (r.to as { name: string }).name : `${JSON.stringify(r.to)}@${host.node}`;
        cb(null, { e: serializeError(noprocError(what, byName)) });
        return;
      }
      const t = typeof r.t === 'number' && r.t > 0 ? r.t : 5000;
      coreCall(pid, r.req, t).then(
        (v) => cb(null, { v }),
        (e) => cb(null, { e: serializeError(e) }),
      );
    },
    Send: (c: { request: SendReq }, cb: (e: null, r: Ack) => void) => {
      const r = c.request ?? ({} as SendReq);
      const pid = resolve(r.inc, r.to);
      if (pid === undefined) {
        cb(null, {
          e: serializeError(new NoProcError(`send to ${JSON.stringify(r.to)} on node "${host.node}"`)),
        });
        return;
      }
      host.local.send(pid, r.msg);
      cb(null, { ok: true });
    },
    Exit: (c: { request: ExitReq }, cb: (e: null, r: Ack) => void) => {
      const r = c.request ?? ({} as ExitReq);
      const pid = resolve(r.inc, { pid: r.pid });
      const reason = decodeReason(r.reason);
      if (pid !== undefined && isExitReason(reason)) host.local.exit(host.local.selfPid, pid, reason);
      cb(null, { ok: true });
    },
    Ping: (_c: unknown, cb: (e: null, r: PingRep) => void) => {
      cb(null, { node: host.node, inc: host.incarnation });
    },
    Monitor: (s: ServerWritableStream<MonitorReq, MonitorEvent>) => {
      const r = s.request ?? ({} as MonitorReq);
      const answer = (reason: ExitReason) => {
        if (s.cancelled) return;
        s.write({ reason: encodeReason(reason) });
        s.end();
      };
      const pid = resolve(r.inc, { pid: r.pid });
      if (pid === undefined) {
        answer({ type: 'noproc' });
        return;
      }
      const ref = host.local.monitor((reason) => answer(reason), pid);
      s.on('cancelled', () => host.local.demonitor(ref));
    },
  };
}
