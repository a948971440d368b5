/**
 * `{ via, name }` names: OTP's `{via, Module, Name}`. A name held in a registry that core does not own
 * (the cluster's global names, an app's own directory) is used wherever a local name is: `call`,
 * `cast`, `send`, `whereisVia`, and the `name` option of `startServer`/`serverChild`.
 *
 * Core only routes: the registry decides where the holder lives and how to reach it. Its methods are
 * async because a registry may need the network (etcd, another node); a local registry answers at once.
 * Our pids are not location-transparent as Erlang's are, so `call` and `send` go through the registry
 * rather than through a pid it hands back (OTP's gen:call resolves the pid with whereis_name first).
 *
 * This file is in a thread's boot path (actor.ts imports it): it must stay free of dependencies.
 */
import { TrellisError } from '../errors.js';
import type { Pid } from '../pid.js';

export interface ViaRegistry {
  /** register_name/2: resolves once `name` is held by `pid`; rejects with NameTakenError
   *  (code ERR_NAME_TAKEN, message naming the holder) when another process holds it. */
  registerName(name: string, pid: Pid): Promise<void>;
  /** unregister_name/1 (no error when not held). */
  unregisterName(name: string): Promise<void>;
  /** whereis_name/1: the holder's pid when it lives in this Node.js process, else undefined. */
  whereisName(name: string): Promise<Pid | undefined>;
  /** send/2: deliver to the holder wherever it lives; rejects with NoProcError when nobody holds it. */
  send(name: string, message: unknown): Promise<void>;
  /** A call to the holder wherever it lives. Rejects like core's call: ERR_NOPROC, ERR_CALL_TIMEOUT,
   *  ERR_CALL_SERVER_EXITED, or the registry's own codes. */
  call(name: string, request: unknown, timeoutMs: number): Promise<unknown>;
}

export interface ViaName {
  /** The key a registry was registered under (`registerViaRegistry`), or the registry itself. */
  readonly via: string | ViaRegistry;
  readonly name: string;
}

/** Anything a process can be addressed by: a pid, a locally registered name, or a `{ via, name }`. */
export type ServerRef = Pid | string | ViaName;

export class UnknownViaRegistryError extends TrellisError {
  constructor(key: string) {
    super(
      'ERR_UNKNOWN_VIA_REGISTRY',
      `no via registry is registered under "${key}"; call registerViaRegistry("${key}", registry) before using { via: "${key}", name }, or pass the registry object itself as via`,
      { details: { key } },
    );
  }
}

const registries = new Map<string, ViaRegistry>();

/** Makes `registry` usable as `{ via: key, name }` in this thread (e.g. key 'cluster'). */
export function registerViaRegistry(key: string, registry: ViaRegistry): void {
  registries.set(key, registry);
}

export function unregisterViaRegistry(key: string): void {
  registries.delete(key);
}

export function isViaName(v: unknown): v is ViaName {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ViaName).name === 'string' &&
    (typeof (v as ViaName).via === 'string' ||
      (typeof (v as ViaName).via === 'object' && (v as ViaName).via !== null))
  );
}

/** The registry a via name points at; throws ERR_UNKNOWN_VIA_REGISTRY for an unknown key. */
export function viaRegistry(v: ViaName): ViaRegistry {
  if (typeof v.via !== 'string') return v.via;
  const r = registries.get(v.via);
  if (r === undefined) throw new UnknownViaRegistryError(v.via);
  return r;
}

/** For messages and labels: `{via, cluster, "name"}`. */
export function formatViaName(v: ViaName): string {
  return `{via, ${typeof v.via === 'string' ? v.via : 'registry'}, "${v.name}"}`;
}
