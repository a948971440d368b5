/**
 * The leased leader's work (an in-thread gen_server, a SIBLING of its lease keeper): each `status`
 * call asks the keeper for role and epoch and, while leading, makes one fenced write with that epoch.
 * A fence refusal is answered as data, never thrown: the work must not crash because the lease moved.
 */
import { defineServer, reply, TrellisError } from '@trellis/core';
import { fencedWrite, isLeading, type LeaseStatus, type LmdbLeaseStore, leaseStatus } from '@trellis/health';
import { CRASH_MESSAGE } from './kv-server.js';

export const LEASE_NAME = 'chaos';
export const KEEPER_NAME = `lease:${LEASE_NAME}`;

export type LeaderRequest = { readonly op: 'status' } | { readonly op: 'crash' };

export interface LeaderReply {
  readonly role: string;
  readonly epoch: number | null;
  readonly writes: number;
  readonly losses: number;
  /** The TrellisError code of a refused write or status call, when there was one. */
  readonly refused?: string;
}

interface State {
  readonly store: LmdbLeaseStore;
  writes: number;
}

export const leaderWork = defineServer<State, [LmdbLeaseStore]>({
  init: (_ctx, store) => ({ store, writes: 0 }),
  async handleCall(req: LeaderRequest, _from, s) {
    if (req.op === 'crash') throw new Error(CRASH_MESSAGE);
    let st: LeaseStatus;
    try {
      st = await leaseStatus(KEEPER_NAME);
    } catch (e) {
      return reply({ role: 'unknown', epoch: null, writes: s.writes, losses: 0, refused: codeOf(e) }, s);
    }
    let refused: string | undefined;
    if (isLeading(st) && st.epoch !== null) {
      try {
        await fencedWrite({ store: s.store, name: LEASE_NAME }, st.epoch, (tx) => {
          tx.put('chaos-writes', ((tx.get('chaos-writes') as number | undefined) ?? 0) + 1);
        });
        s.writes++;
      } catch (e) {
        refused = codeOf(e);
      }
    }
    const answer: LeaderReply = { role: st.role, epoch: st.epoch, writes: s.writes, losses: st.losses };
    return reply(refused === undefined ? answer : { ...answer, refused }, s);
  },
});

function codeOf(e: unknown): string {
  return e instanceof TrellisError ? e.code : 'ERR_UNKNOWN';
}
