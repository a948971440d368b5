/**
 * The supervision tree the chaos suite runs (one per host process):
 *
 *   chaos-app                 one_for_one
 *   ├── trellis-registry      registryChild: records every OS process, sweeps dead runs at start
 *   ├── lease-keeper:chaos    leaseKeeperChild: the leased leader's heartbeat
 *   ├── chaos-leader-work     gen_server (sibling of the keeper): fenced writes while leading
 *   ├── pool-a                ToolPool of 3 Python workers serving fixtures/chaos_tools_a.py (maxRssMb, shmThresholdBytes)
 *   ├── pool-b                ToolPool of 2 Python workers serving fixtures/chaos_tools_b.py
 *   ├── chaos-threads         one_for_one
 *   │   ├── chaos-thread-0    thread actor (gen_server in its own worker thread, resourceLimits)
 *   │   └── chaos-thread-1    the same, with a warm spare
 *   ├── chaos-servers         one_for_one
 *   │   ├── chaos-kv-0        in-thread gen_server
 *   │   └── chaos-kv-1
 *   └── chaos-tasks           TaskPool (piscina threads) for stateless CPU work
 */
import { fileURLToPath } from 'node:url';
import {
  type ChildSpec,
  IGNORE,
  type StartFn,
  type SupervisorSpec,
  serverChild,
  supervisorChild,
  type ThreadChildOptions,
  taskPoolChild,
  threadChild,
} from '@trellis/core';
import { ToolPool } from '@trellis/grpc-bridge';
import { LmdbLeaseStore, leaseKeeperChild } from '@trellis/health';
import { type RegistryLogger, registryChild, type SweepReport } from '@trellis/registry';
import { kvServer } from './actors/kv-server.js';
import { LEASE_NAME, leaderWork } from './actors/leader-work.js';
import { CHAOS_DEFAULTS } from './defaults.js';
import { targetingSelector } from './targeting.js';

export const NAMES = Object.freeze({
  app: 'chaos-app',
  registry: 'chaos-registry',
  leader: 'chaos-leader',
  leaderChild: 'chaos-leader-work',
  threadsSup: 'chaos-threads',
  serversSup: 'chaos-servers',
  threads: Object.freeze(['chaos-thread-0', 'chaos-thread-1']),
  kv: Object.freeze(['chaos-kv-0', 'chaos-kv-1']),
  tasks: 'chaos-tasks',
});

export const TOOLS_A = fileURLToPath(new URL('../../fixtures/chaos_tools_a.py', import.meta.url));
export const TOOLS_B = fileURLToPath(new URL('../../fixtures/chaos_tools_b.py', import.meta.url));
const THREAD_MODULE = new URL('./actors/chaos-thread.js', import.meta.url);
const TASK_MODULE = new URL('./actors/chaos-task.js', import.meta.url);

const THREAD_LIMITS = Object.freeze({
  maxOldGenerationSizeMb: CHAOS_DEFAULTS.threadHeapLimitMb,
  maxYoungGenerationSizeMb: 8,
});

export interface ChaosTree {
  readonly spec: SupervisorSpec;
  readonly pools: readonly ToolPool[];
  readonly leaseStore: LmdbLeaseStore;
  /** What the registry's sweep did at start (undefined when it found nothing to do). */
  readonly bootSweep: () => SweepReport | undefined;
}

export interface TreeOptions {
  readonly home: string;
  readonly onStderr?: (line: string, pid: number) => void;
}

export function buildTree(o: TreeOptions): ChaosTree {
  let sweep: SweepReport | undefined;
  const logger: RegistryLogger = {
    info: (message, data) => {
      const r = (data as { report?: SweepReport } | undefined)?.report;
      if (r && 'runs' in r) sweep = r;
      console.error(message);
    },
    warn: (message, data) => {
      const r = (data as { report?: SweepReport } | undefined)?.report;
      if (r && 'runs' in r) sweep = r;
      console.error(message);
    },
  };
  const pool = (name: string, tools: string, size: number, a: boolean) =>
    new ToolPool({
      name,
      tools,
      size,
      // Pool A recycles a worker whose RSS passes this (the leak fault); pool B never recycles.
      // Its threshold is set here, not left to the default, because the shared-memory faults'
      // sizes are chosen around it (defaults.ts).
      ...(a
        ? { maxRssMb: CHAOS_DEFAULTS.poolAMaxRssMb, shmThresholdBytes: CHAOS_DEFAULTS.poolAShmThresholdBytes }
        : {}),
      concurrency: 4,
      heartbeatIntervalMs: CHAOS_DEFAULTS.heartbeatIntervalMs,
      heartbeatMisses: CHAOS_DEFAULTS.heartbeatMisses,
      restartIntensity: CHAOS_DEFAULTS.poolRestartIntensity,
      restartPeriodMs: CHAOS_DEFAULTS.poolRestartPeriodMs,
      callTimeoutMs: CHAOS_DEFAULTS.poolCallTimeoutMs,
      queueTimeoutMs: CHAOS_DEFAULTS.poolQueueTimeoutMs,
      graceMs: 1000,
      selector: targetingSelector(name),
      onStderr: o.onStderr,
    });
  const pools = [
    pool('pool-a', TOOLS_A, CHAOS_DEFAULTS.poolASize, true),
    pool('pool-b', TOOLS_B, CHAOS_DEFAULTS.poolBSize, false),
  ];
  const leaseStore = LmdbLeaseStore.open({ dir: o.home });
  const subFlags = { strategy: 'one_for_one' as const, intensity: 30, periodMs: 10_000 };
  const threads: ChildSpec[] = NAMES.threads.map((name, i) => ({
    id: name,
    start: namedThread(name, { resourceLimits: THREAD_LIMITS, warmSpare: i === 1 }),
    args: [i],
    shutdown: 2000,
  }));
  const kv: ChildSpec[] = NAMES.kv.map((name) => ({ id: name, start: serverChild(kvServer, { name }) }));
  const spec: SupervisorSpec = {
    flags: { strategy: 'one_for_one', intensity: 20, periodMs: 10_000 },
    children: [
      registryChild({ name: NAMES.registry, dir: o.home, graceMs: CHAOS_DEFAULTS.registryGraceMs, logger }),
      leaseKeeperChild({ lease: LEASE_NAME, ttlMs: CHAOS_DEFAULTS.leaseTtlMs, dir: o.home }),
      { id: NAMES.leaderChild, start: serverChild(leaderWork, { name: NAMES.leader }), args: [leaseStore] },
      ...pools.map((p) => p.childSpec()),
      {
        id: NAMES.threadsSup,
        type: 'supervisor',
        start: supervisorChild({ flags: subFlags, children: threads }, { name: NAMES.threadsSup }),
      },
      {
        id: NAMES.serversSup,
        type: 'supervisor',
        start: supervisorChild({ flags: subFlags, children: kv }, { name: NAMES.serversSup }),
      },
      {
        id: NAMES.tasks,
        shutdown: 5000,
        start: taskPoolChild({
          filename: TASK_MODULE,
          name: NAMES.tasks,
          minThreads: 1,
          maxThreads: 2,
          taskTimeoutMs: CHAOS_DEFAULTS.taskTimeoutMs,
        }),
      },
    ],
  };
  return { spec, pools, leaseStore, bootSweep: () => sweep };
}

/**
 * A thread actor registered under `name` in THIS thread, so the load can call it by name across
 * restarts (names are per thread; a restarted actor has a new pid). The old registration is freed
 * when the old actor exits, but that notice and the restart race, so a stale entry is replaced.
 */
function namedThread(name: string, opts: ThreadChildOptions): StartFn {
  const inner = threadChild(THREAD_MODULE, opts);
  return async (ctx, ...args) => {
    const pid = await inner(ctx, ...args);
    if (pid !== IGNORE) {
      if (ctx.node.whereis(name) !== undefined) ctx.node.unregister(name);
      ctx.node.register(name, pid);
    }
    return pid;
  };
}
