/**
 * Sessions of a pool: which worker holds each session's Python state (ctx.session), when a session
 * expires, and what happened to its worker.
 *
 * A session is bound to the first worker that runs one of its calls; later calls prefer that worker
 * (the affinity mode decides what happens when it is busy or gone). A session id the host never
 * created explicitly is created on its first call, so `sessionId` alone keeps working.
 *
 * Expiry is idle-based (`sessionTtlMs` since the last call) and found by one periodic sweep, not a
 * timer per session: a session-affine call then costs a Map lookup and a field write, nothing more.
 * Ending a session (explicitly or by expiry) sends EndSession to its worker, so Python drops the
 * state; a worker that is gone has dropped it already.
 */
import type { AffinityMode } from './options.js';

export interface Session {
  readonly id: string;
  /** The worker holding its state (PoolWorker id), once a call ran. */
  workerId: number | undefined;
  workerPid: number | undefined;
  /** Set when its worker exited or was recycled: how (for ERR_SESSION_WORKER_GONE). */
  lost: string | undefined;
  /** Affinity of this session (createSession option), else the pool's. */
  readonly affinity: AffinityMode | undefined;
  readonly ttlMs: number;
  lastUsed: number;
}

export interface CreateSessionOptions {
  /** Your own id (default: a random one). */
  readonly id?: string;
  /** Idle time after which the session ends (default: the pool's sessionTtlMs). */
  readonly ttlMs?: number;
  /** Affinity of the session's calls (default: the pool's; a call's own option wins). */
  readonly affinity?: AffinityMode;
}

export class SessionTable {
  readonly #byId = new Map<string, Session>();
  readonly #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  create(id: string, now: number, o: CreateSessionOptions = {}): Session {
    const s: Session = {
      id,
      workerId: undefined,
      workerPid: undefined,
      lost: undefined,
      affinity: o.affinity,
      ttlMs: o.ttlMs ?? this.#ttlMs,
      lastUsed: now,
    };
    this.#byId.set(id, s);
    return s;
  }

  get(id: string): Session | undefined {
    return this.#byId.get(id);
  }

  /** The session for a call (created on first use), marked used now. */
  touch(id: string, now: number): Session {
    const s = this.#byId.get(id) ?? this.create(id, now);
    s.lastUsed = now;
    return s;
  }

  delete(id: string): Session | undefined {
    const s = this.#byId.get(id);
    if (s !== undefined) this.#byId.delete(id);
    return s;
  }

  /** The worker left (exit or recycle): its sessions' state is gone. */
  workerLost(workerId: number, how: string): void {
    for (const s of this.#byId.values()) if (s.workerId === workerId && s.lost === undefined) s.lost = how;
  }

  /** Removes and returns the sessions idle longer than their TTL. */
  expired(now: number): Session[] {
    const out: Session[] = [];
    for (const s of this.#byId.values()) if (now - s.lastUsed >= s.ttlMs) out.push(s);
    for (const s of out) this.#byId.delete(s.id);
    return out;
  }

  clear(): Session[] {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    return all;
  }

  get size(): number {
    return this.#byId.size;
  }
}
