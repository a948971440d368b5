/**
 * Child specs: what a supervisor needs to start, restart and stop one child.
 *
 * A start function must start the child *linked to ctx.parent* (OTP's start_link contract) and
 * resolve with its pid once it is initialised, with IGNORE when it chose not to start, or reject
 * when it failed. Builders for the common kinds: `serverChild` (gen_server in this thread),
 * `threadChild` (thread-actor.ts), `supervisorChild` (supervisor.ts), `taskPoolChild` (task-pool.ts).
 */
import type { Clock } from '../clock.js';
import { InvalidChildSpecError } from '../errors.js';
import type { Ignore } from '../gen.js';
import { type GenServer, startServer } from '../gen-server.js';
import type { ViaName } from '../names/via.js';
import type { Node } from '../node.js';
import type { Pid } from '../pid.js';

export interface StartContext {
  /** The supervisor: the child must be linked to it before the start function resolves. */
  readonly parent: Pid;
  readonly node: Node;
  /** The supervisor's clock, for children that want to share it (tests use a SimulatedClock). */
  readonly clock: Clock;
  /** The child's id in its supervisor. */
  readonly id: string;
}

export type StartFn = (ctx: StartContext, ...args: any[]) => Promise<Pid | Ignore>;

export type RestartType = 'permanent' | 'transient' | 'temporary';
export type Shutdown = 'brutal_kill' | 'infinity' | number;
export type ChildType = 'worker' | 'supervisor';

/** Akka-style backoff for restarts of one child (see backoff.ts). */
export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
  /** 0..1: each delay is multiplied by 1 + random[0,1) * randomFactor. */
  readonly randomFactor?: number;
  /** The count of consecutive restarts resets once the child has run this long (default minMs). */
  readonly resetAfterMs?: number;
  /** More consecutive restarts than this stop the supervisor (default: unlimited). */
  readonly maxRetries?: number;
}

export interface ChildSpec {
  readonly id: string;
  readonly start: StartFn;
  /** Arguments passed to start after the context (for simple_one_for_one, extra ones are appended). */
  readonly args?: readonly unknown[];
  readonly restart?: RestartType;
  readonly shutdown?: Shutdown;
  readonly type?: ChildType;
  readonly significant?: boolean;
  readonly backoff?: BackoffOptions;
}

/** A child spec with every default filled in. */
export interface NormalizedChildSpec {
  readonly id: string;
  readonly start: StartFn;
  readonly args: readonly unknown[];
  readonly restart: RestartType;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
  readonly significant: boolean;
  readonly backoff: Required<BackoffOptions> | undefined;
}

/** OTP's defaults for child specs (supervisor.erl): one frozen object. */
export const CHILD_DEFAULTS = Object.freeze({
  restart: 'permanent' as RestartType,
  type: 'worker' as ChildType,
  workerShutdownMs: 5000,
  supervisorShutdown: 'infinity' as Shutdown,
  significant: false,
});

const RESTARTS = ['permanent', 'transient', 'temporary'];
const TYPES = ['worker', 'supervisor'];

function fail(id: unknown, field: string, problem: string, fix: string): never {
  const who = typeof id === 'string' ? `child "${id}"` : 'child spec';
  throw new InvalidChildSpecError(`${who}: ${field} ${problem}; ${fix}`, { id, field });
}

export function normalizeChildSpec(
  spec: unknown,
  autoShutdown: 'never' | 'any_significant' | 'all_significant' = 'never',
): NormalizedChildSpec {
  if (typeof spec !== 'object' || spec === null) {
    throw new InvalidChildSpecError(
      `child spec must be an object with at least { id, start }, got ${typeof spec}`,
      { field: 'spec' },
    );
  }
  const s = spec as Partial<ChildSpec> & Record<string, unknown>;
  if (typeof s.id !== 'string' || s.id.length === 0)
    fail(s.id, 'id', 'is missing or not a non-empty string', 'give every child a unique string id');
  if (typeof s.start !== 'function') {
    fail(
      s.id,
      'start',
      'is missing or not a function',
      'set start to a start function such as serverChild(behaviour) or threadChild(url)',
    );
  }
  if (s.args !== undefined && !Array.isArray(s.args))
    fail(s.id, 'args', 'must be an array', 'pass the start arguments as an array');
  const restart = s.restart ?? CHILD_DEFAULTS.restart;
  if (!RESTARTS.includes(restart))
    fail(s.id, 'restart', `is "${String(restart)}"`, `use one of ${RESTARTS.join(', ')}`);
  const type = s.type ?? CHILD_DEFAULTS.type;
  if (!TYPES.includes(type)) fail(s.id, 'type', `is "${String(type)}"`, `use one of ${TYPES.join(', ')}`);
  const shutdown =
    s.shutdown ??
    (type === 'supervisor' ? CHILD_DEFAULTS.supervisorShutdown : CHILD_DEFAULTS.workerShutdownMs);
  if (
    !(
      shutdown === 'brutal_kill' ||
      shutdown === 'infinity' ||
      (Number.isInteger(shutdown) && (shutdown as number) >= 0)
    )
  ) {
    fail(
      s.id,
      'shutdown',
      `is ${JSON.stringify(shutdown)}`,
      'use "brutal_kill", "infinity" or a whole number of milliseconds >= 0',
    );
  }
  const significant = s.significant ?? CHILD_DEFAULTS.significant;
  if (typeof significant !== 'boolean') fail(s.id, 'significant', 'must be a boolean', 'use true or false');
  if (significant && restart === 'permanent') {
    fail(
      s.id,
      'significant',
      'is true for a permanent child',
      'make the child transient or temporary, or drop significant (OTP forbids significant permanent children)',
    );
  }
  if (significant && autoShutdown === 'never') {
    fail(
      s.id,
      'significant',
      'is true but the supervisor has autoShutdown "never"',
      'set the supervisor\'s autoShutdown to "any_significant" or "all_significant"',
    );
  }
  return {
    id: s.id as string,
    start: s.start as StartFn,
    args: s.args ?? [],
    restart,
    shutdown,
    type,
    significant,
    backoff: s.backoff === undefined ? undefined : normalizeBackoff(s.id as string, s.backoff),
  };
}

export function normalizeBackoff(id: string, b: unknown): Required<BackoffOptions> {
  if (typeof b !== 'object' || b === null)
    fail(id, 'backoff', 'must be an object', 'use { minMs, maxMs, randomFactor? }');
  const o = b as Partial<BackoffOptions>;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!finite(o.minMs) || !(o.minMs > 0))
    fail(id, 'backoff.minMs', `is ${String(o.minMs)}`, 'use a finite number of milliseconds > 0');
  if (!finite(o.maxMs) || !(o.maxMs >= o.minMs))
    fail(id, 'backoff.maxMs', `is ${String(o.maxMs)}`, 'use a finite number >= backoff.minMs');
  const randomFactor = o.randomFactor ?? 0;
  // `!(0 <= x <= 1)` rather than `x < 0 || x > 1`, so that NaN is refused too.
  if (typeof randomFactor !== 'number' || !(randomFactor >= 0 && randomFactor <= 1)) {
    fail(id, 'backoff.randomFactor', `is ${String(randomFactor)}`, 'use a number from 0 to 1');
  }
  const maxRetries = o.maxRetries ?? Number.POSITIVE_INFINITY;
  if (!(maxRetries === Number.POSITIVE_INFINITY || (Number.isInteger(maxRetries) && maxRetries >= 0))) {
    fail(
      id,
      'backoff.maxRetries',
      `is ${String(maxRetries)}`,
      'use a whole number >= 0, or leave it out for no limit',
    );
  }
  const resetAfterMs = o.resetAfterMs ?? o.minMs;
  if (!finite(resetAfterMs) || resetAfterMs < 0) {
    fail(
      id,
      'backoff.resetAfterMs',
      `is ${String(resetAfterMs)}`,
      'use a finite number of milliseconds >= 0 (default: backoff.minMs)',
    );
  }
  return { minMs: o.minMs, maxMs: o.maxMs, randomFactor, resetAfterMs, maxRetries };
}

export interface ServerChildOptions {
  /** Register the server under this name (a local name or a `{ via, name }`). */
  readonly name?: string | ViaName;
  readonly trapExit?: boolean;
  /** Kill the server and fail its start (ERR_START_TIMEOUT) if init takes longer (OTP's {timeout, T}). */
  readonly startTimeoutMs?: number;
}

/** A start function for a gen_server in the supervisor's thread; `args` of the spec go to init. */
export function serverChild<S, Args extends unknown[]>(
  behaviour: GenServer<S, Args>,
  opts: ServerChildOptions = {},
): StartFn {
  return (ctx, ...args) =>
    startServer(
      behaviour,
      args as Args,
      {
        link: ctx.parent,
        name: opts.name,
        trapExit: opts.trapExit,
        clock: ctx.clock,
        startTimeoutMs: opts.startTimeoutMs,
      },
      ctx.node,
    );
}
