/**
 * The supervisor's control functions: startChild, terminateChild, restartChild, deleteChild,
 * whichChildren, countChildren (plus resetBackoff). The client half sends a call; the server half
 * (`handleRequest`) runs inside the supervisor's loop. Failures travel back as data so they cross
 * threads, and are rethrown as TrellisErrors with OTP's reason in `reason`.
 */
import { call } from '../actor.js';
import {
  deserializeError,
  InvalidChildSpecError,
  type SerializedError,
  serializeError,
  TrellisError,
} from '../errors.js';
import { formatReason } from '../exit-reason.js';
import { IGNORE, type Ignore } from '../gen.js';
import { isPid, type Pid } from '../pid.js';
import { BackoffState } from './backoff.js';
import {
  type ChildSpec,
  type ChildType,
  type NormalizedChildSpec,
  normalizeChildSpec,
  type RestartType,
} from './child-spec.js';
import { type Child, type SupState, shutdownChild, startChildProcess } from './children.js';

export type SupRequest =
  | { readonly op: 'start_child'; readonly spec?: ChildSpec; readonly extraArgs?: readonly unknown[] }
  | { readonly op: 'terminate_child'; readonly id: string | Pid }
  | { readonly op: 'restart_child'; readonly id: string }
  | { readonly op: 'delete_child'; readonly id: string }
  | { readonly op: 'which_children' }
  | { readonly op: 'count_children' }
  | { readonly op: 'reset_backoff'; readonly id: string }
  | { readonly op: 'get_childspec'; readonly id: string | Pid };

type Reply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError };

export interface ChildInfo {
  /** The child's id (undefined for the dynamic children of simple_one_for_one). */
  readonly id: string | undefined;
  readonly pid: Pid | 'restarting' | undefined;
  readonly type: ChildType;
  readonly restart: RestartType;
  readonly significant: boolean;
  /** Times this child has been restarted by the supervisor. */
  readonly restarts: number;
}

export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

export class SupervisorRequestError extends TrellisError {
  /** OTP's name for the failure: already_present, already_started, not_found, running, restarting, simple_one_for_one, ... */
  readonly reason: string;
  constructor(
    code: string,
    reason: string,
    message: string,
    details?: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(code, message, { details: { ...details, reason }, cause });
    this.reason = reason;
  }
}

const err = (code: string, reason: string, message: string, details?: Record<string, unknown>) =>
  new SupervisorRequestError(code, reason, message, details);

const notFound = (id: string) =>
  err(
    'ERR_CHILD_NOT_FOUND',
    'not_found',
    `no child with id "${id}" in this supervisor; check whichChildren(sup) for the ids it has`,
    { id },
  );
const simpleOnly = (op: string) =>
  err(
    'ERR_SIMPLE_ONE_FOR_ONE',
    'simple_one_for_one',
    `${op} is not available on a simple_one_for_one supervisor; use terminateChild(sup, pid) for its children`,
    { op },
  );

function isRunning(c: Child): c is Child & { pid: Pid } {
  return typeof c.pid === 'string' && c.pid !== 'restarting';
}

/**
 * The child `id` when it is neither running nor being restarted (restart_child and delete_child act
 * only on a stopped child); else the error saying which, with `restarting` and `running` as the
 * reason's words for this request.
 */
function stoppedChild(st: SupState, id: string, restarting: string, running: string): Child {
  const c = st.children.get(id);
  if (!c) throw notFound(id);
  if (c.pid === 'restarting')
    throw err('ERR_CHILD_RESTARTING', 'restarting', `child "${id}" ${restarting}`, { id });
  if (isRunning(c))
    throw err('ERR_CHILD_RUNNING', 'running', `child "${id}" is running (${c.pid}); ${running}`, { id });
  return c;
}

/** Runs one control request inside the supervisor's loop. */
export async function handleRequest(st: SupState, req: SupRequest): Promise<Reply> {
  try {
    return { ok: true, value: await dispatch(st, req) };
  } catch (e) {
    return { ok: false, error: serializeError(e) };
  }
}

async function dispatch(st: SupState, req: SupRequest): Promise<unknown> {
  const simple = st.flags.strategy === 'simple_one_for_one';
  switch (req.op) {
    case 'start_child':
      // The two shapes of startChild must not be mixed up silently: a spec given to a
      // simple_one_for_one supervisor would otherwise start a template instance without its args.
      if (simple && req.extraArgs === undefined) {
        throw new InvalidChildSpecError(
          'startChild on a simple_one_for_one supervisor takes an array of extra start arguments, got a child spec; pass startChild(sup, [arg1, ...]) (the spec is the template given at start)',
          { field: 'extraArgs' },
        );
      }
      if (!simple && req.spec === undefined) {
        throw new InvalidChildSpecError(
          `startChild on a ${st.flags.strategy} supervisor takes a child spec, got an array of arguments (those are for simple_one_for_one); pass startChild(sup, { id, start, ... })`,
          { field: 'spec' },
        );
      }
      return simple ? startDynamic(st, req.extraArgs ?? []) : startStatic(st, req.spec);
    case 'terminate_child': {
      if (simple) {
        // OTP answers a non-pid on a simple_one_for_one supervisor with simple_one_for_one.
        if (!isPid(req.id)) throw simpleOnly(`terminateChild(sup, "${req.id}")`);
        const c = st.byPid.get(req.id);
        if (!c)
          throw err('ERR_CHILD_NOT_FOUND', 'not_found', `${req.id} is not a child of this supervisor`, {
            pid: req.id,
          });
        await shutdownChild(st, c);
        st.remove(c);
        return true;
      }
      const c = isPid(req.id) ? st.byPid.get(req.id) : st.children.get(req.id);
      if (!c) throw notFound(req.id);
      await shutdownChild(st, c);
      // A child waiting for a (backoff or retried) restart is terminated by cancelling that restart:
      // with no pid, the pending $sup_retry finds nothing to do (OTP sets the pid to undefined too).
      if (c.pid === 'restarting') c.pid = undefined;
      if (c.spec.restart === 'temporary') st.remove(c);
      return true;
    }
    case 'restart_child': {
      if (simple) throw simpleOnly('restartChild');
      const c = stoppedChild(st, req.id, 'is being restarted already', 'terminateChild it first');
      const r = await startChildProcess(st, c, false);
      if (r !== true) throw startFailed(req.id, r);
      return c.pid ?? IGNORE_MARK;
    }
    case 'delete_child': {
      if (simple) throw simpleOnly('deleteChild');
      const c = stoppedChild(
        st,
        req.id,
        'is being restarted; terminate it first',
        'terminateChild it before deleteChild',
      );
      st.remove(c);
      return true;
    }
    case 'which_children':
      return st.ordered().map(
        (c): ChildInfo => ({
          id: c.dynamic ? undefined : c.key,
          pid: c.pid,
          type: c.spec.type,
          restart: c.spec.restart,
          significant: c.spec.significant,
          restarts: c.restarts,
        }),
      );
    case 'count_children': {
      const all = st.ordered();
      return {
        specs: simple ? 1 : all.length,
        active: all.filter(isRunning).length,
        supervisors: all.filter((c) => c.spec.type === 'supervisor').length,
        workers: all.filter((c) => c.spec.type === 'worker').length,
      } satisfies ChildCounts;
    }
    case 'reset_backoff': {
      const c = st.children.get(req.id);
      if (!c) throw notFound(req.id);
      c.backoff?.reset();
      return true;
    }
    case 'get_childspec': {
      // OTP's get_childspec/2: by id, or by pid (the only way on simple_one_for_one, which answers
      // with its template).
      const c = isPid(req.id) ? st.byPid.get(req.id) : simple ? undefined : st.children.get(req.id);
      if (c === undefined) {
        if (isPid(req.id))
          throw err('ERR_CHILD_NOT_FOUND', 'not_found', `${req.id} is not a child of this supervisor`, {
            pid: req.id,
          });
        throw simple ? simpleOnly(`getChildSpec(sup, "${req.id}")`) : notFound(req.id);
      }
      return c.spec;
    }
  }
}

const IGNORE_MARK = '$ignore';

function startFailed(id: string, r: import('../exit-reason.js').ExitReason): TrellisError {
  return new TrellisError('ERR_START_CHILD_FAILED', `child "${id}" failed to start: ${formatReason(r)}`, {
    details: { id, reason: formatReason(r) },
    cause: r.type === 'error' ? r.cause : undefined,
  });
}

async function startStatic(st: SupState, spec: ChildSpec | undefined): Promise<unknown> {
  const s = normalizeChildSpec(spec, st.flags.autoShutdown);
  const existing = st.children.get(s.id);
  if (existing) {
    if (isRunning(existing)) {
      throw err(
        'ERR_ALREADY_STARTED',
        'already_started',
        `child "${s.id}" is already started as ${existing.pid}`,
        { id: s.id, pid: existing.pid },
      );
    }
    throw err(
      'ERR_ALREADY_PRESENT',
      'already_present',
      `a child spec "${s.id}" is already present (not running); use restartChild or deleteChild first`,
      { id: s.id },
    );
  }
  return addAndStart(st, s.id, s, s.args, false);
}

async function startDynamic(st: SupState, extraArgs: readonly unknown[]): Promise<unknown> {
  const t = st.template!;
  return addAndStart(st, `#${++st.nextDynamic}`, t, [...t.args, ...extraArgs], true);
}

/**
 * start_child's common part: the child is added, then started; a failed start removes it again.
 * A child whose start returned ignore keeps its place only when it is static and not temporary
 * (OTP keeps the spec, with an undefined pid, for restartChild).
 */
async function addAndStart(
  st: SupState,
  key: string,
  spec: Child['spec'],
  args: readonly unknown[],
  dynamic: boolean,
): Promise<unknown> {
  const child: Child = {
    key,
    spec,
    args,
    pid: undefined,
    startedAt: 0,
    restarts: 0,
    backoff: spec.backoff ? new BackoffState(spec.backoff) : undefined,
    dynamic,
  };
  st.add(child);
  const r = await startChildProcess(st, child, false);
  if (r !== true) {
    st.remove(child);
    throw startFailed(spec.id, r);
  }
  if (child.pid === undefined && (dynamic || spec.restart === 'temporary')) st.remove(child);
  return child.pid ?? IGNORE_MARK;
}

// ---- client side ---------------------------------------------------------------------------------

async function request<T>(sup: Pid | string, req: SupRequest, timeoutMs: number): Promise<T> {
  const r = await call<Reply>(sup, req, timeoutMs);
  if (!r.ok) throw revive(r.error);
  return r.value as T;
}

function revive(e: SerializedError): Error {
  const reason = (e.details as { reason?: unknown } | undefined)?.reason;
  if (e.code !== undefined && typeof reason === 'string') {
    // Keep the cause (e.g. the start function's own TrellisError with its code) across the call.
    const x = new SupervisorRequestError(
      e.code,
      reason,
      e.message,
      e.details,
      e.cause ? deserializeError(e.cause) : undefined,
    );
    if (e.stack) x.stack = e.stack;
    return x;
  }
  return deserializeError(e);
}

const INF = Number.POSITIVE_INFINITY;

/** Starts a child from `spec` (or, on simple_one_for_one, an instance with `extraArgs`). */
export async function startChild(
  sup: Pid | string,
  specOrArgs: ChildSpec | readonly unknown[],
  timeoutMs = INF,
): Promise<Pid | Ignore> {
  const req: SupRequest = Array.isArray(specOrArgs)
    ? { op: 'start_child', extraArgs: specOrArgs }
    : { op: 'start_child', spec: specOrArgs as ChildSpec };
  const v = await request<Pid | string>(sup, req, timeoutMs);
  return v === IGNORE_MARK ? IGNORE : (v as Pid);
}

/** Stops a child and keeps its spec (by id; by pid on simple_one_for_one). */
export function terminateChild(sup: Pid | string, id: string | Pid, timeoutMs = INF): Promise<true> {
  return request(sup, { op: 'terminate_child', id }, timeoutMs);
}

export async function restartChild(sup: Pid | string, id: string, timeoutMs = INF): Promise<Pid | Ignore> {
  const v = await request<Pid | string>(sup, { op: 'restart_child', id }, timeoutMs);
  return v === IGNORE_MARK ? IGNORE : (v as Pid);
}

export function deleteChild(sup: Pid | string, id: string, timeoutMs = INF): Promise<true> {
  return request(sup, { op: 'delete_child', id }, timeoutMs);
}

export function whichChildren(sup: Pid | string, timeoutMs = INF): Promise<ChildInfo[]> {
  return request(sup, { op: 'which_children' }, timeoutMs);
}

export function countChildren(sup: Pid | string, timeoutMs = INF): Promise<ChildCounts> {
  return request(sup, { op: 'count_children' }, timeoutMs);
}

/**
 * OTP's get_childspec/2: the child's spec with every default filled in (by id, or by pid). The spec
 * holds the start function, so it can be read only from the supervisor's own thread.
 */
export function getChildSpec(
  sup: Pid | string,
  id: string | Pid,
  timeoutMs = INF,
): Promise<NormalizedChildSpec> {
  return request(sup, { op: 'get_childspec', id }, timeoutMs);
}

/** Resets a backoff child's count of consecutive restarts (Akka's explicit reset). */
export function resetBackoff(sup: Pid | string, id: string, timeoutMs = INF): Promise<true> {
  return request(sup, { op: 'reset_backoff', id }, timeoutMs);
}

export { IGNORE };
