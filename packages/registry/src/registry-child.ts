/**
 * The registry as a gen_server in a supervision tree. Put it FIRST among the children of the top
 * supervisor: it starts before anything that spawns processes (its init opens the registry, records
 * the run, sweeps what crashed runs left and installs the process tracker), and, since supervisors
 * stop children in reverse order, it stops LAST: its terminate stops every child process of the run
 * (SIGTERM, grace, SIGKILL, confirmed in /proc) and closes the file.
 */
import {
  type ChildSpec,
  type Clock,
  call,
  defineServer,
  deserializeError,
  type Pid,
  reply,
  type SerializedError,
  serializeError,
  startServer,
} from '@trellis/core';
import { REGISTRY_DEFAULTS } from './defaults.js';
import { InvalidRegistryOptionsError } from './errors.js';
import { Registry, type RegistryOptions, type StopAllOptions } from './registry.js';
import type { SweepOptions } from './sweep.js';

export interface RegistryChildOptions extends RegistryOptions {
  /** Child id in the supervisor (default `trellis-registry`). */
  readonly id?: string;
  /** Register the server under this name, so others can `call(name, request)`. */
  readonly name?: string;
  /**
   * How long the supervisor waits for terminate before killing the actor. Default: the grace period
   * plus the kill time-out plus one second, so an orderly stop is never cut short.
   */
  readonly shutdownMs?: number;
}

/** What the registry server answers to `call`. */
export type RegistryRequest =
  | { readonly op: 'runId' }
  | { readonly op: 'listRuns' }
  | { readonly op: 'listChildren'; readonly runId?: string }
  | { readonly op: 'sweep'; readonly options?: SweepOptions }
  | { readonly op: 'stopAll'; readonly options?: StopAllOptions };

/** How the server answers: bad requests are errors for the caller, never a crash of the registry. */
type RegistryReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError };

const registryServer = defineServer<Registry, [RegistryOptions]>({
  async init(_ctx, options) {
    return Registry.open(options);
  },
  async handleCall(request: RegistryRequest, _from, registry) {
    let answer: RegistryReply;
    try {
      answer = { ok: true, value: await dispatch(registry, request) };
    } catch (err) {
      answer = { ok: false, error: serializeError(err) };
    }
    return reply(answer, registry);
  },
  async terminate(_reason, registry) {
    try {
      await registry.stopAll();
    } finally {
      await registry.close();
    }
  },
});

async function dispatch(registry: Registry, request: RegistryRequest): Promise<unknown> {
  switch (request?.op) {
    case 'runId':
      return registry.runId;
    case 'listRuns':
      return registry.listRuns();
    case 'listChildren':
      return registry.listChildren(request.runId);
    case 'sweep':
      return registry.sweep(request.options);
    case 'stopAll':
      return registry.stopAll(request.options);
    default:
      throw new InvalidRegistryOptionsError(
        `unknown registry request ${JSON.stringify(request)}; use { op: 'runId' | 'listRuns' | 'listChildren' | 'sweep' | 'stopAll' }`,
      );
  }
}

/** Calls a registry server started by `registryChild`; its errors are thrown here as TrellisErrors. */
export async function callRegistry<T = unknown>(
  server: Pid | string,
  request: RegistryRequest,
  timeoutMs?: number,
): Promise<T> {
  const answer = await call<RegistryReply>(server, request, timeoutMs);
  if (!answer.ok) throw deserializeError(answer.error);
  return answer.value as T;
}

/** A child spec for the registry (see the module comment for where to put it). */
export function registryChild(options: RegistryChildOptions = {}): ChildSpec {
  const { id, name, shutdownMs, ...registryOptions } = options;
  const graceMs = registryOptions.graceMs ?? REGISTRY_DEFAULTS.graceMs;
  if (!(Number.isFinite(graceMs) && graceMs >= 0)) {
    throw new InvalidRegistryOptionsError(`graceMs must be a finite number >= 0, got ${String(graceMs)}`);
  }
  const shutdown = shutdownMs ?? graceMs + REGISTRY_DEFAULTS.killTimeoutMs + 1000;
  if (!(Number.isInteger(shutdown) && shutdown >= 0)) {
    throw new InvalidRegistryOptionsError(
      `shutdownMs must be a whole number >= 0, got ${String(shutdownMs)}`,
    );
  }
  return {
    id: id ?? 'trellis-registry',
    start: (ctx) =>
      startServer(
        registryServer,
        // The supervisor's clock times the grace periods unless the options bring their own.
        [{ ...registryOptions, clock: registryOptions.clock ?? (ctx.clock as Clock) }],
        { link: ctx.parent, parent: ctx.parent, name, trapExit: true, clock: ctx.clock },
        ctx.node,
      ),
    restart: 'permanent',
    shutdown,
    type: 'worker',
  };
}
