/**
 * The supervisor process, after OTP's supervisor.erl.
 *
 * Children are kept as an ordered list of keys plus a map, because start order is what makes
 * rest_for_one and reverse-order shutdown work. A simple_one_for_one supervisor keeps its dynamic
 * children in the same structure under generated keys.
 *
 * The supervisor traps exits. Everything it does happens in its own loop, one message at a time: a
 * child's EXIT, a control request, a retry of a failed restart. Starting a child awaits the child's
 * start function, so requests that arrive meanwhile wait, as in OTP.
 */
import { ActorContext } from '../actor.js';
import type { Clock } from '../clock.js';
import { DuplicateChildError, TrellisError } from '../errors.js';
import { eventBus, type SupervisorEvent } from '../events.js';
import { Exit, type ExitReason, isCleanExit } from '../exit-reason.js';
import { IGNORE, type Ignore, InitFailedError } from '../gen-server.js';
import { currentNode, type Node } from '../node.js';
import type { Pid, Ref } from '../pid.js';
import { type CallMessage, type DownMessage, type ExitMessage, TIMEOUT } from '../process.js';
import { BackoffState } from './backoff.js';
import { type ChildSpec, type NormalizedChildSpec, normalizeChildSpec, type StartFn } from './child-spec.js';
import { normalizeFlags, type SupervisorFlags } from './flags.js';
import { handleRequest, type SupRequest } from './requests.js';
import { RestartIntensity } from './restart-intensity.js';

export interface SupervisorSpec {
  readonly flags?: SupervisorFlags;
  readonly children?: readonly ChildSpec[];
}

export interface StartSupervisorOptions {
  readonly link?: Pid | undefined;
  /** Whose EXIT stops the supervisor (defaults to `link`). */
  readonly parent?: Pid | undefined;
  readonly name?: string | undefined;
  readonly clock?: Clock | undefined;
  /** Source of randomness for backoff jitter (tests pass a fixed one). */
  readonly random?: (() => number) | undefined;
}

export class SupervisorStartError extends TrellisError {
  readonly reason: ExitReason;
  constructor(id: string, childReason: ExitReason) {
    super(
      'ERR_SUPERVISOR_START_FAILED',
      `supervisor failed to start child "${id}": ${describeReason(childReason)}; the children already started were stopped`,
      { details: { id }, cause: childReason.type === 'error' ? childReason.cause : undefined },
    );
    this.reason = Exit.shutdown({ failedToStartChild: id, reason: childReason });
  }
}

function describeReason(r: ExitReason): string {
  if (r.type === 'error')
    return r.cause instanceof Error ? `${r.cause.name}: ${r.cause.message}` : String(r.cause);
  return r.type;
}

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
  readonly timers = new Set<import('../clock.js').TimerHandle>();
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
    const bus = eventBus(this.ctx.node);
    if (!bus.active) return;
    bus.publish({
      ...e,
      supervisor: this.self,
      supervisorName: this.name,
      at: Date.now(),
    } as SupervisorEvent);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Thrown inside the loop to end the supervisor after its children were stopped. */
class StopSupervisor {
  constructor(readonly reason: ExitReason) {}
}

/** Starts a supervisor; resolves with its pid after every child has started. */
export function startSupervisor(
  spec: SupervisorSpec,
  opts: StartSupervisorOptions = {},
  node: Node = currentNode(),
): Promise<Pid> {
  let flags: Required<SupervisorFlags>;
  let specs: NormalizedChildSpec[];
  try {
    flags = normalizeFlags(spec.flags);
    specs = validateSpecs(spec.children ?? [], flags);
  } catch (e) {
    return Promise.reject(e);
  }
  return new Promise((resolve, reject) => {
    node.spawn(
      async (proc) => {
        const ctx = new ActorContext(node, proc);
        const st = new SupState(
          ctx,
          flags,
          new RestartIntensity(flags.intensity, flags.periodMs),
          // Unlinked supervisors treat code outside any actor as their parent, so exit(sup, shutdown) from it stops them.
          opts.parent ?? opts.link ?? node.selfPid,
          opts.random ?? Math.random,
          opts.name,
        );
        // Pending backoff timers go when the supervisor goes, however it ends (even killed): a real
        // timer of up to maxMs would otherwise keep the event loop, and so the Node process, alive.
        proc.onExit = () => {
          for (const t of st.timers) ctx.clock.clearTimeout(t);
          st.timers.clear();
        };
        try {
          await init(st, specs);
        } catch (e) {
          reject(e);
          ctx.stop((e as SupervisorStartError).reason ?? Exit.error(e));
        }
        st.emit({ type: 'supervisor_started', strategy: flags.strategy, parent: st.parent });
        resolve(proc.pid);
        await loop(st);
      },
      { link: opts.link, name: opts.name, clock: opts.clock, trapExit: true },
    );
  });
}

/** A start function for a supervisor as the child of another (give the spec type 'supervisor'). */
export function supervisorChild(
  spec: SupervisorSpec,
  opts: Omit<StartSupervisorOptions, 'link' | 'parent'> = {},
): StartFn {
  return (ctx) =>
    startSupervisor(spec, { ...opts, clock: opts.clock ?? ctx.clock, link: ctx.parent }, ctx.node);
}

function validateSpecs(
  children: readonly ChildSpec[],
  flags: Required<SupervisorFlags>,
): NormalizedChildSpec[] {
  const specs = children.map((c) => normalizeChildSpec(c, flags.autoShutdown));
  if (flags.strategy === 'simple_one_for_one') {
    if (specs.length !== 1) {
      throw new TrellisError(
        'ERR_INVALID_CHILD_SPEC',
        `a simple_one_for_one supervisor takes exactly one child spec (the template), got ${specs.length}; children are then added with startChild(sup, extraArgs)`,
        { details: { count: specs.length } },
      );
    }
    return specs;
  }
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.id)) throw new DuplicateChildError(s.id);
    seen.add(s.id);
  }
  return specs;
}

async function init(st: SupState, specs: NormalizedChildSpec[]): Promise<void> {
  if (st.flags.strategy === 'simple_one_for_one') {
    st.template = specs[0];
    return;
  }
  for (const spec of specs) {
    const child: Child = {
      key: spec.id,
      spec,
      args: spec.args,
      pid: undefined,
      startedAt: 0,
      restarts: 0,
      backoff: undefined,
      dynamic: false,
    };
    if (spec.backoff) child.backoff = new BackoffState(spec.backoff);
    st.add(child);
    const r = await startChildProcess(st, child, false);
    if (r !== true) {
      // OTP: unwind the children already started, in reverse order, then fail the start.
      st.remove(child);
      await terminateAll(st);
      throw new SupervisorStartError(spec.id, r);
    }
    if (child.pid === undefined && spec.restart === 'temporary') st.remove(child);
  }
}

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

async function loop(st: SupState): Promise<void> {
  const ctx = st.ctx;
  for (;;) {
    const msg = (await ctx.receive()) as
      | ExitMessage
      | CallMessage<SupRequest>
      | RetryMessage
      | { type?: unknown };
    try {
      switch (msg.type) {
        case 'EXIT':
          await onExit(st, msg as ExitMessage);
          break;
        case '$call': {
          const m = msg as CallMessage<SupRequest>;
          ctx.reply(m.from, await handleRequest(st, m.request));
          break;
        }
        case '$sup_retry':
          await onRetry(st, msg as RetryMessage);
          break;
        default:
          // Stray DOWN messages of monitors already flushed, or unexpected messages: ignored, as OTP logs and drops them.
          break;
      }
    } catch (e) {
      if (e instanceof StopSupervisor) {
        st.emit({ type: 'supervisor_shutdown', reason: e.reason });
        ctx.stop(e.reason);
      }
      throw e;
    }
  }
}

interface RetryMessage {
  readonly type: '$sup_retry';
  readonly key: string;
  /** 'backoff': a scheduled delayed restart; 'retry': a restart whose start failed (counts toward intensity). */
  readonly kind: 'backoff' | 'retry';
}

async function onExit(st: SupState, m: ExitMessage): Promise<void> {
  if (st.parent !== undefined && m.from === st.parent) {
    await terminateAll(st);
    throw new StopSupervisor(m.reason);
  }
  const child = st.byPid.get(m.from);
  if (child === undefined) return; // a child we already stopped, or a start that failed after linking
  st.byPid.delete(m.from);
  child.pid = undefined;
  st.emit({ type: 'child_exited', id: child.key, pid: m.from, reason: m.reason });
  const restart =
    child.spec.restart === 'permanent' || (child.spec.restart === 'transient' && !isCleanExit(m.reason));
  if (!restart) {
    if (child.spec.restart === 'temporary' || child.dynamic) st.remove(child);
    if (child.spec.significant) await checkAutoShutdown(st);
    return;
  }
  await scheduleRestart(st, child);
}

async function checkAutoShutdown(st: SupState): Promise<void> {
  const mode = st.flags.autoShutdown;
  if (mode === 'never') return;
  if (mode === 'all_significant') {
    for (const c of st.children.values()) if (c.spec.significant && c.pid !== undefined) return;
  }
  await terminateAll(st);
  throw new StopSupervisor(Exit.shutdown());
}

async function scheduleRestart(st: SupState, child: Child): Promise<void> {
  const ctx = st.ctx;
  if (child.backoff) return scheduleBackoff(st, child, ctx.clock.now() - child.startedAt);
  if (!st.intensity.add(ctx.clock.now())) await reachedMaxIntensity(st);
  await restartByStrategy(st, child);
}

/**
 * Backoff children are governed by their own maxRetries instead of the supervisor's intensity: the
 * point of backoff is to keep retrying, slowly, for longer than an intensity window. `upMs` is how
 * long the child ran; a run of resetAfterMs resets the count of consecutive restarts.
 */
async function scheduleBackoff(st: SupState, child: Child, upMs: number): Promise<void> {
  const ctx = st.ctx;
  const backoff = child.backoff!;
  const delay = backoff.nextDelay(upMs, st.random);
  if (backoff.exhausted()) {
    st.emit({ type: 'intensity_reached', intensity: backoff.opts.maxRetries, periodMs: 0 });
    await terminateAll(st);
    throw new StopSupervisor(Exit.shutdown({ reachedMaxRetries: child.key }));
  }
  child.pid = 'restarting';
  st.emit({ type: 'child_restart_scheduled', id: child.key, delayMs: delay, attempt: backoff.attempts });
  const t = ctx.clock.setTimeout(() => {
    st.timers.delete(t);
    if (ctx.alive)
      ctx.send(ctx.self, { type: '$sup_retry', key: child.key, kind: 'backoff' } satisfies RetryMessage);
  }, delay);
  st.timers.add(t);
}

/**
 * Too many restarts: stop every child and exit with plain `shutdown`, as supervisor.erl does. The
 * `intensity_reached` event is the report (OTP's reached_max_restart_intensity supervisor report); the
 * exit reason stays `shutdown` so a parent treats it like any orderly stop of a supervisor child.
 */
async function reachedMaxIntensity(st: SupState): Promise<never> {
  st.emit({ type: 'intensity_reached', intensity: st.flags.intensity, periodMs: st.flags.periodMs });
  await terminateAll(st);
  throw new StopSupervisor(Exit.shutdown());
}

async function onRetry(st: SupState, m: RetryMessage): Promise<void> {
  const child = st.children.get(m.key);
  if (child === undefined || child.pid !== 'restarting') return;
  if (m.kind === 'retry' && !st.intensity.add(st.ctx.clock.now())) await reachedMaxIntensity(st);
  await restartByStrategy(st, child);
}

async function restartByStrategy(st: SupState, child: Child): Promise<void> {
  switch (st.flags.strategy) {
    case 'one_for_one':
    case 'simple_one_for_one':
      return restartOneForOne(st, child);
    case 'one_for_all':
      return restartGroup(st, child, st.ordered());
    case 'rest_for_one': {
      const all = st.ordered();
      return restartGroup(st, child, all.slice(all.indexOf(child)));
    }
  }
}

/** one_for_one: only the dead child is restarted. */
async function restartOneForOne(st: SupState, child: Child): Promise<void> {
  const r = await startChildProcess(st, child, true);
  if (r !== true) await restartFailed(st, child);
}

/**
 * one_for_all (group = every child) and rest_for_one (group = the dead child and those after it):
 * stop the rest of the group in reverse start order, then start the whole group in start order.
 * Temporary children stopped this way are not restarted and their specs are removed (OTP).
 */
async function restartGroup(st: SupState, dead: Child, group: Child[]): Promise<void> {
  for (const c of [...group].reverse()) {
    if (c === dead) continue;
    if (typeof c.pid === 'string' && c.pid !== 'restarting') await shutdownChild(st, c);
    if (c.spec.restart === 'temporary') st.remove(c);
  }
  for (const c of group) {
    if (!st.children.has(c.key)) continue;
    const r = await startChildProcess(st, c, true);
    if (r !== true) {
      await restartFailed(st, c);
      return;
    }
  }
}

/**
 * A restart whose start failed: mark the child restarting and retry from the loop, so requests that
 * arrived meanwhile are served first, and the retry counts toward the intensity (OTP statement 13).
 * A backoff child instead waits for its next, longer delay: its start failing is one more consecutive
 * failure, and retrying at once would burn through the intensity that backoff exists to avoid.
 */
async function restartFailed(st: SupState, child: Child): Promise<void> {
  if (child.backoff) {
    await scheduleBackoff(st, child, 0);
    return;
  }
  child.pid = 'restarting';
  st.ctx.send(st.self, { type: '$sup_retry', key: child.key, kind: 'retry' } satisfies RetryMessage);
}

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
