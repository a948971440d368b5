/** The observer's options: their validation and defaults (OBSERVER_DEFAULTS). */
import { type Clock, type Pid, systemClock } from '@trellis/core';
import { userAnnounceDir } from './announce.js';
import { OBSERVER_DEFAULTS } from './defaults.js';
import { InvalidObserverOptionsError, ObserverHostRefusedError } from './errors.js';
import type { MetricsOptions } from './metrics-endpoint.js';
import {
  type ClusterSource,
  type HealthSource,
  isRegistryLike,
  type LeaseSource,
  type PoolSource,
  type RegistryLike,
  type RegistrySource,
  registrySource,
} from './sources.js';
import { generateToken } from './token.js';

export interface ObserverOptions {
  /** The supervisor to show (pid or registered name); omit for a page of the sources only. */
  readonly root?: Pid | string | undefined;
  /** Only '127.0.0.1' is accepted (the default). */
  readonly host?: string | undefined;
  /** Default 0: the OS picks a free port. */
  readonly port?: number | undefined;
  /** The control token; by default a random one. At least 16 printable ASCII characters. */
  readonly token?: string | undefined;
  /** A `Registry` opened in this process, or any RegistrySource (e.g. registryServerSource(name)). */
  readonly registry?: RegistrySource | RegistryLike | undefined;
  /** Pools by display name: anything with `stats()` (taskPoolSource(name) for task pools). */
  readonly pools?: Readonly<Record<string, PoolSource>> | undefined;
  readonly health?: HealthSource | undefined;
  readonly leases?: LeaseSource | undefined;
  /** Every node of a cluster on etcd: `clusterViewSource()` from @trellis/cluster. */
  readonly cluster?: ClusterSource | undefined;
  /**
   * Directory to write an announce file into, so `trellis status` finds this observer; false for
   * none. Default: the registry's directory when `registry` is a Registry, else $TRELLIS_HOME if set.
   */
  readonly announce?: string | false | undefined;
  /**
   * `GET /metrics` (Prometheus): by default the observer registers an OpenTelemetry MeterProvider
   * with the Prometheus exporter as the global one (see metrics-endpoint.ts); `{ exporter }` serves
   * a PrometheusExporter the app added to its own provider instead; false for no endpoint.
   */
  readonly metrics?: MetricsOptions | false | undefined;
  /** Standalone page: list the observers announced in this directory. */
  readonly listAnnounced?: string | undefined;
  /** Page title (default "Trellis observer"). */
  readonly title?: string | undefined;
  /** Where the start-up lines (URL, token) go; default console.log; false for nowhere. */
  readonly log?: ((line: string) => void) | false | undefined;
  readonly coalesceMs?: number | undefined;
  readonly pollMs?: number | undefined;
  readonly callTimeoutMs?: number | undefined;
  readonly controlTimeoutMs?: number | undefined;
  /** Timers for coalescing and polling (tests may pass their own). */
  readonly clock?: Clock | undefined;
  /** @internal the observer's own actor, when it runs as a child (observerChild). */
  readonly self?: Pid | undefined;
}

export interface Normalized {
  readonly root: Pid | string | undefined;
  readonly port: number;
  readonly token: string;
  readonly registry: RegistrySource | undefined;
  readonly registryDir: string | undefined;
  readonly pools: ReadonlyArray<readonly [string, PoolSource]>;
  readonly health: HealthSource | undefined;
  readonly leases: LeaseSource | undefined;
  readonly cluster: ClusterSource | undefined;
  readonly announce: string | undefined;
  /** This user's runtime directory for announce files (none when `announce` is false). */
  readonly userAnnounce: string | undefined;
  readonly metrics: MetricsOptions | false;
  readonly listAnnounced: string | undefined;
  readonly title: string;
  readonly log: (line: string) => void;
  readonly coalesceMs: number;
  readonly pollMs: number;
  readonly callTimeoutMs: number;
  readonly controlTimeoutMs: number;
  readonly clock: Clock;
  readonly self: Pid | undefined;
}

const bad = (message: string, field: string) => new InvalidObserverOptionsError(message, { field });

function checkMs(v: unknown, field: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw bad(`${field} is ${String(v)}; use a number of milliseconds >= ${min}`, field);
  }
  return v;
}

/** Validates options (synchronously: observerChild calls this when the spec is built). */
export function normalizeObserverOptions(o: ObserverOptions = {}): Normalized {
  if (typeof o !== 'object' || o === null) throw bad('observer options must be an object', 'options');
  if (o.host !== undefined && o.host !== OBSERVER_DEFAULTS.host) throw new ObserverHostRefusedError(o.host);
  const port = o.port ?? OBSERVER_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw bad(`port is ${String(o.port)}; use a whole number from 0 to 65535 (0: any free port)`, 'port');
  }
  if (o.token !== undefined) {
    if (
      typeof o.token !== 'string' ||
      o.token.length < OBSERVER_DEFAULTS.minTokenLength ||
      !/^[\x21-\x7e]+$/.test(o.token)
    ) {
      throw bad(
        `token must be at least ${OBSERVER_DEFAULTS.minTokenLength} printable ASCII characters without spaces; omit it to get a random one`,
        'token',
      );
    }
  }
  if (o.root !== undefined && (typeof o.root !== 'string' || o.root.length === 0)) {
    throw bad(`root is ${JSON.stringify(o.root)}; pass the root supervisor's pid or registered name`, 'root');
  }
  let registry: RegistrySource | undefined;
  let registryDir: string | undefined;
  if (o.registry !== undefined) {
    if (isRegistryLike(o.registry)) {
      registry = registrySource(o.registry);
      const dir = (o.registry as { dir?: unknown }).dir;
      if (typeof dir === 'string') registryDir = dir;
    } else if (typeof (o.registry as RegistrySource)?.processes === 'function')
      registry = o.registry as RegistrySource;
    else throw bad('registry must be a Registry or an object with processes()', 'registry');
  }
  const pools: [string, PoolSource][] = [];
  if (o.pools !== undefined) {
    if (typeof o.pools !== 'object' || o.pools === null)
      throw bad('pools must be an object { name: { stats() } }', 'pools');
    for (const [name, p] of Object.entries(o.pools)) {
      if (typeof p?.stats !== 'function')
        throw bad(`pool "${name}" has no stats() function; use taskPoolSource(name) for task pools`, 'pools');
      pools.push([name, p]);
    }
  }
  if (o.health !== undefined && typeof o.health?.records !== 'function')
    throw bad('health must have records()', 'health');
  if (o.leases !== undefined && typeof o.leases?.leases !== 'function')
    throw bad('leases must have leases()', 'leases');
  if (o.cluster !== undefined && typeof o.cluster?.nodes !== 'function')
    throw bad('cluster must have nodes(): pass clusterViewSource() from @trellis/cluster', 'cluster');
  if (
    o.announce !== undefined &&
    o.announce !== false &&
    (typeof o.announce !== 'string' || o.announce === '')
  ) {
    throw bad('announce must be a directory path or false', 'announce');
  }
  const envHome = process.env.TRELLIS_HOME;
  const announce =
    o.announce === false
      ? undefined
      : (o.announce ?? registryDir ?? (envHome !== undefined && envHome !== '' ? envHome : undefined));
  const log = o.log === false ? () => {} : (o.log ?? ((line: string) => console.log(line)));
  return {
    root: o.root,
    port,
    token: o.token ?? generateToken(OBSERVER_DEFAULTS.tokenBytes),
    registry,
    registryDir,
    pools,
    health: o.health,
    leases: o.leases,
    cluster: o.cluster,
    announce,
    userAnnounce: o.announce === false ? undefined : userAnnounceDir(process.env),
    metrics: o.metrics === false ? false : (o.metrics ?? {}),
    listAnnounced: o.listAnnounced,
    title: o.title ?? 'Trellis observer',
    log,
    coalesceMs: checkMs(o.coalesceMs, 'coalesceMs', OBSERVER_DEFAULTS.coalesceMs, 0),
    pollMs: checkMs(o.pollMs, 'pollMs', OBSERVER_DEFAULTS.pollMs, 10),
    callTimeoutMs: checkMs(o.callTimeoutMs, 'callTimeoutMs', OBSERVER_DEFAULTS.callTimeoutMs, 1),
    controlTimeoutMs: checkMs(o.controlTimeoutMs, 'controlTimeoutMs', OBSERVER_DEFAULTS.controlTimeoutMs, 1),
    clock: o.clock ?? systemClock,
    self: o.self,
  };
}
