/**
 * Placement: a pool whose workers live on other nodes (issue 15). The pool decides *what* runs (its
 * slots, tools, limits, secret); a PlacementProvider decides *where* and does the launching: it
 * reports the nodes that may run workers, starts one worker on a node and hands back its
 * WorkerHandle (worker/worker-handle.ts), and says where the pool's HostService listens for remote
 * workers. @trellis/cluster registers the `cluster` provider when a cluster node starts; tests
 * register their own.
 *
 * Providers are found by key in a registry kept on globalThis (under a Symbol.for key): the cluster
 * package imports this module too, and should a bundler or a mixed install give it a second copy of
 * this file, a module-level Map would split in two and the pool would find no provider.
 */
import type { ServerCredentials } from '@grpc/grpc-js';
import { InvalidPoolOptionsError } from '../errors.js';
import type { WorkerHandle } from '../worker/worker-handle.js';

/** The pool option `placement`: `perNode` workers on each live node that `nodes` selects. */
export interface PlacementOptions {
  /** 'cluster': every node with the agent role; or these node names only. */
  readonly nodes: 'cluster' | readonly string[];
  /** Workers (slots) per live node, >= 1. */
  readonly perNode: number;
  /** Which registered provider places the workers (default 'cluster', registered by @trellis/cluster). */
  readonly provider?: string | PlacementProvider;
}

/** A node that may run workers, in one life of it (a node that rejoins is a new incarnation). */
export interface PlacementNode {
  readonly node: string;
  readonly incarnation: number;
}

/**
 * Everything the pool decides about a worker; the machine's own things (python path resolution,
 * cgroups, registry, socket dirs) are the agent's. JSON-serialisable: it travels to the agent.
 */
export interface RemoteLaunch {
  readonly pool: string;
  readonly slot: number;
  /** Module names or absolute paths, resolved on the agent. */
  readonly tools: readonly string[];
  /** The pool's `python` when it is a string, else undefined (the agent's default interpreter). */
  readonly python: string | undefined;
  readonly concurrency: number;
  readonly maxMessageBytes: number;
  /** The worker's `--grace-ms`. */
  readonly graceMs: number;
  readonly startTimeoutMs: number;
  readonly maxRssMb: number | undefined;
  /** The pool's `env` option only (never this process's environment). */
  readonly env: Readonly<Record<string, string>>;
  /** The pool's per-run secret (the worker checks it on every call). */
  readonly secret: string;
  /** The pool's HostService on this node's address (mTLS), for `ctx.call_host_tool`; undefined: none. */
  readonly hostAddress: string | undefined;
}

/** Where the pool's HostService listens for remote workers. */
export interface HostListen {
  /** Bind address on this node, `host:port` (port 0: any free one). */
  readonly bind: string;
  /** mTLS with the cluster's CA, client certificates required. */
  readonly credentials: ServerCredentials;
  /**
   * The host name remote workers dial (the bind host when undefined). Certificates name nodes by
   * DNS name: dialling by IP makes Node warn (DEP0123) and fails the name check.
   */
  readonly advertise?: string | undefined;
}

export interface PlacementProvider {
  /**
   * Calls onChange now and after every change with the nodes that may run workers: members with the
   * agent role, matching `nodes`, up and reachable. Returns the unsubscribe function.
   */
  watchNodes(
    nodes: 'cluster' | readonly string[],
    onChange: (live: readonly PlacementNode[]) => void,
  ): () => void;
  /**
   * Starts one worker on `node`; resolves when it is ready (described). Rejects with a TrellisError:
   * ERR_NODE_DOWN, ERR_NODE_UNREACHABLE, ERR_TLS_REFUSED, ERR_WORKER_START_FAILED (from the agent).
   */
  launch(node: PlacementNode, launch: RemoteLaunch): Promise<WorkerHandle>;
  /** Where the pool's HostService listens for remote workers; undefined: no host tools for them. */
  hostListen(): HostListen | undefined;
}

const REGISTRY = Symbol.for('trellis.grpc-bridge.placement-providers');

function registry(): Map<string, PlacementProvider> {
  const g = globalThis as { [REGISTRY]?: Map<string, PlacementProvider> };
  g[REGISTRY] ??= new Map();
  return g[REGISTRY];
}

/** Makes `provider` available to pools as `placement: { provider: key }` (a later one replaces it). */
export function registerPlacementProvider(key: string, provider: PlacementProvider): void {
  if (typeof key !== 'string' || key === '')
    throw new InvalidPoolOptionsError(
      `registerPlacementProvider key is ${JSON.stringify(key)}; use a non-empty string`,
    );
  registry().set(key, provider);
}

/** Removes the provider under `key` (only that one: a no-op when `provider` is given and differs). */
export function unregisterPlacementProvider(key: string, provider?: PlacementProvider): void {
  const r = registry();
  if (provider === undefined || r.get(key) === provider) r.delete(key);
}

/** The provider a pool's placement names, or a precise error saying what to start. */
export function placementProvider(pool: string, p: PlacementOptions): PlacementProvider {
  const ref = p.provider ?? 'cluster';
  if (typeof ref !== 'string') return ref;
  const found = registry().get(ref);
  if (found !== undefined) return found;
  const how =
    ref === 'cluster'
      ? 'start a cluster node in this process first (clusterNodeChild or start(tree, { cluster }) from @trellis/cluster registers the "cluster" provider; the machines that run workers each run `trellis agent`), or pass placement.provider'
      : `call registerPlacementProvider("${ref}", provider) before the pool starts`;
  throw new InvalidPoolOptionsError(
    `pool "${pool}" has placement on nodes ${JSON.stringify(p.nodes)} but no placement provider "${ref}" is registered: ${how}`,
    { field: 'placement.provider', provider: ref, registered: [...registry().keys()] },
  );
}
