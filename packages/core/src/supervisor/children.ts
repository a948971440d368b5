/**
 * A supervisor's children: their state (ordered keys plus a map, as supervisor.erl's `children`),
 * starting one, and shutting them down. The lowest layer of the supervisor: restart.ts, requests.ts
 * and the loop (supervisor.ts) all build on it, and it imports none of them, so the request
 * handlers no longer import the loop that calls them.
 *
 * Children are kept as an ordered list of keys plus a map, because start order is what makes
 * rest_for_one and reverse-order shutdown work. A simple_one_for_one supervisor keeps its dynamic
 * children in the same structure under generated keys.
 */
import type { ActorContext } from '../actor.js';
import type { TimerHandle } from '../clock.js';
import { TrellisError } from '../errors.js';
import { eventBus, type SupervisorEvent } from '../events.js';
import { Exit, type ExitReason } from '../exit-reason.js';
import { IGNORE, type Ignore, InitFailedError } from '../gen.js';
import type { Pid, Ref } from '../pid.js';
import { type DownMessage, type ExitMessage, TIMEOUT } from '../process.js';
import type { BackoffState } from './backoff.js';
import type { NormalizedChildSpec } from './child-spec.js';
import type { SupervisorFlags } from './flags.js';
import { reportSupervisorEvent } from './reports.js';
import type { RestartIntensity } from './restart-intensity.js';
import { supervisorTelemetry } from './telemetry.js';

export class SupervisorStartError extends TrellisError {
  declare readonly reason: ExitReason;
  constructor(id: string, childReason: ExitReason) {
    super(
      'ERR_SUPERVISOR_START_FAILED',
      `supervisor failed to start child "${id}": ${describeReason(childReason)}; the children already started were stopped`,
      { details: { id }, cause: childReason.type === 'error' ? childReason.cause : undefined },
    );
    // Not enumerable: printed (an uncaught start failure), the error would otherwise show the child's
    // error three times, in the message, inside `reason` and as `[cause]`; the cause is enough.
    Object.defineProperty(this, 'reason', {
      value: Exit.shutdown({ failedToStartChild: id, reason: childReason }),
      enumerable: false,
    });
  }
}

function describeReason(r: ExitReason): string {
  if (r.type === 'error')
    return r.cause instanceof Error ? `${r.cause.name}: ${r.cause.message}` : String(r.cause);
  return r.type;
}

// ---- state --------------------------------------------------------------------------------------

/** @internal one child of a supervisor */
export interface Child {
  readonly key: string;
  readonly spec: NormalizedChildSpec;
  readonly args: readonly unknown[];
  pid: Pid | undefined | 'restarting';
  /** The pid of the latest start, kept after it exits, so a restart can report the pid it replaces. */
  lastPid?: Pid | undefined;
  startedAt: number;
  restarts: number;
  backoff: BackoffState | undefined;
  dynamic: boolean;
}

/** @internal */
export class SupState {
  readonly keys: string[] = [];
  readonly children = new Map<string, Child>();
  readonly byPid = new Map<Pid, Child>();
  readonly timers = new Set<TimerHandle>();
  template: NormalizedChildSpec | undefined;
  nextDynamic = 0;
  constructor(
    readonly ctx: ActorContext,
    readonly flags: Required<SupervisorFlags>,
    readonly intensity: RestartIntensity,
    readonly parent: Pid | undefined,
    readonly random: () => number,
    readonly name: string | undefined,
  ) {}

  get self(): Pid {
    return this.ctx.self;
  }

  add(child: Child): void {
    this.keys.push(child.key);
    this.children.set(child.key, child);
  }

  remove(child: Child): void {
    const i = this.keys.indexOf(child.key);
    if (i >= 0) this.keys.splice(i, 1);
    this.children.delete(child.key);
    if (typeof child.pid === 'string' && child.pid !== 'restarting') this.byPid.delete(child.pid);
  }

  ordered(): Child[] {
    return this.keys.map((k) => this.children.get(k)!);
  }

  emit(e: DistributiveOmit<SupervisorEvent, 'supervisor' | 'supervisorName' | 'at'>): void {
    reportSupervisorEvent(this.self, this.name, (id) => this.children.get(id)?.spec ?? this.template, e);
    const at = Date.now();
    supervisorTelemetry(this, e, at);
    const bus = eventBus(this.ctx.node);
    if (!bus.active) return;
    bus.publish({ ...e, supervisor: this.self, supervisorName: this.name, at } as SupervisorEvent);
  }

  /** For the intensity gauge (supervisor/telemetry.ts): the clock restarts are counted on. */
  now(): number {
    return this.ctx.clock.now();
  }

  alive = (): boolean => this.ctx.node.procs.has(this.ctx.self);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// ---- start --------------------------------------------------------------------------------------

/** Exit reason for a start function that threw. */
export function startFailureReason(e: unknown): ExitReason {
  if (e instanceof InitFailedError) return e.reason;
  if (e instanceof SupervisorStartError) return e.reason;
  return Exit.error(e);
}

/** Starts (or restarts) one child. True on success or ignore, else the failure reason. */
export async function startChildProcess(
  st: SupState,
  child: Child,
  restart: boolean,
): Promise<true | ExitReason> {
  // child.pid is already cleared when the old process exited (or was stopped for a group restart).
  const oldPid = child.lastPid;
  let r: Pid | Ignore;
  try {
    r = await child.spec.start(
      { parent: st.self, node: st.ctx.node, clock: st.ctx.clock, id: child.key },
      ...child.args,
    );
  } catch (e) {
    const reason = startFailureReason(e);
    st.emit({ type: 'child_start_failed', id: child.key, reason });
    return reason;
  }
  if (r === IGNORE) {
    child.pid = undefined;
    return true;
  }
  child.pid = r;
  child.lastPid = r;
  child.startedAt = st.ctx.clock.now();
  st.byPid.set(r, child);
  if (restart) {
    child.restarts++;
    st.emit({ type: 'child_restarted', id: child.key, pid: r, oldPid, restarts: child.restarts });
  } else st.emit({ type: 'child_started', id: child.key, pid: r, childType: child.spec.type });
  return true;
}

// ---- shutdown -----------------------------------------------------------------------------------

/**
 * Stops one child as its shutdown spec says, and returns its exit reason.
 *
 * Why a monitor and not the link (OTP's note): the child may have unlinked itself, and an EXIT
 * through the link could then never arrive, hanging the supervisor. So: monitor, unlink, then signal.
 * If the child died just before, its EXIT is already queued; it is dropped here and the DOWN (which
 * then says noproc or the real reason) is what counts.
 */
export async function shutdownChild(st: SupState, child: Child): Promise<ExitReason> {
  const pid = child.pid;
  if (typeof pid !== 'string' || pid === 'restarting') return Exit.normal;
  const ctx = st.ctx;
  st.byPid.delete(pid);
  child.pid = undefined;
  const ref = ctx.monitor(pid);
  ctx.unlink(pid);
  ctx.proc.mailbox.remove((m) => (m as ExitMessage).type === 'EXIT' && (m as ExitMessage).from === pid);
  const reason = await stopProcess(ctx, pid, ref, child.spec.shutdown);
  st.emit({ type: 'child_terminated', id: child.key, pid, reason });
  return reason;
}

async function stopProcess(
  ctx: ActorContext,
  pid: Pid,
  ref: Ref,
  shutdown: NormalizedChildSpec['shutdown'],
): Promise<ExitReason> {
  const isDown = (m: unknown) => (m as DownMessage).type === 'DOWN' && (m as DownMessage).ref === ref;
  if (shutdown === 'brutal_kill') {
    ctx.exit(pid, 'kill');
    return ((await ctx.receive(isDown)) as DownMessage).reason;
  }
  ctx.exit(pid, Exit.shutdown());
  const d = await ctx.receive(isDown, shutdown === 'infinity' ? undefined : shutdown);
  if (d !== TIMEOUT) return (d as DownMessage).reason;
  ctx.exit(pid, 'kill');
  return ((await ctx.receive(isDown)) as DownMessage).reason;
}

/**
 * Stops every child in reverse start order. A simple_one_for_one supervisor signals all its dynamic
 * children at once and waits for them under one timer (OTP).
 */
export async function terminateAll(st: SupState): Promise<void> {
  if (st.flags.strategy !== 'simple_one_for_one') {
    for (const c of st.ordered().reverse()) await shutdownChild(st, c);
    return;
  }
  const ctx = st.ctx;
  const running = st.ordered().filter((c) => typeof c.pid === 'string' && c.pid !== 'restarting');
  const shutdown = st.template!.shutdown;
  const refs = new Map<Ref, Child>();
  for (const c of running) {
    const pid = c.pid as Pid;
    st.byPid.delete(pid);
    const ref = ctx.monitor(pid);
    ctx.unlink(pid);
    ctx.proc.mailbox.remove((m) => (m as ExitMessage).type === 'EXIT' && (m as ExitMessage).from === pid);
    refs.set(ref, c);
    ctx.exit(pid, shutdown === 'brutal_kill' ? 'kill' : Exit.shutdown());
  }
  const isOurDown = (m: unknown) => (m as DownMessage).type === 'DOWN' && refs.has((m as DownMessage).ref);
  const deadline = typeof shutdown === 'number' ? ctx.clock.now() + shutdown : undefined;
  while (refs.size > 0) {
    const left = deadline === undefined ? undefined : Math.max(0, deadline - ctx.clock.now());
    const d = await ctx.receive(isOurDown, left);
    if (d === TIMEOUT) {
      for (const c of refs.values()) ctx.exit(c.pid as Pid, 'kill');
      while (refs.size > 0) refs.delete(((await ctx.receive(isOurDown)) as DownMessage).ref);
      break;
    }
    refs.delete((d as DownMessage).ref);
  }
  for (const c of running) st.remove(c);
}
