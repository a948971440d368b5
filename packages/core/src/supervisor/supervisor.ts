/**
 * The supervisor process, after OTP's supervisor.erl: starting it, its first children, and its loop.
 *
 * The parts: children.ts (the children's state, starting and shutting down one), restart.ts (a
 * child's exit through a failed restart), requests.ts (startChild, whichChildren...: imports only
 * children.ts), and the spec, flags, restart intensity and backoff in files of their own.
 *
 * The supervisor traps exits. Everything it does happens in its own loop, one message at a time: a
 * child's EXIT, a control request, a retry of a failed restart. Starting a child awaits the child's
 * start function, so requests that arrive meanwhile wait, as in OTP.
 */
import { ActorContext } from '../actor.js';
import type { Clock } from '../clock.js';
import { DuplicateChildError, TrellisError } from '../errors.js';
import { Exit } from '../exit-reason.js';
import { currentNode, type Node } from '../node.js';
import type { Pid } from '../pid.js';
import type { CallMessage, ExitMessage } from '../process.js';
import { BackoffState } from './backoff.js';
import { type ChildSpec, type NormalizedChildSpec, normalizeChildSpec, type StartFn } from './child-spec.js';
import { type Child, SupervisorStartError, SupState, startChildProcess, terminateAll } from './children.js';
import { normalizeFlags, type SupervisorFlags } from './flags.js';
import { handleRequest, type SupRequest } from './requests.js';
import { onExit, onRetry, type RetryMessage, StopSupervisor } from './restart.js';
import { RestartIntensity } from './restart-intensity.js';

export { SupervisorStartError } from './children.js';

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
        st.emit({
          type: 'supervisor_started',
          strategy: flags.strategy,
          parent: st.parent,
          intensity: flags.intensity,
          periodMs: flags.periodMs,
        });
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

/** Normalizes and checks a supervisor's child specs (also checkChildSpecs). */
export function validateSpecs(
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
