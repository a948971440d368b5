/**
 * `pnpm observer --demo`: a small tree to try the page on. A flaky worker crashes now and then, a
 * simple_one_for_one supervisor holds a few sessions, a task pool does some work, and the workers
 * beat into a tiny in-memory health table in which one worker stops beating after a while, so it
 * turns stale. (Real heartbeat monitoring is @trellis/health's; this table is only the demo's.)
 */
import {
  type Application,
  defineServer,
  noreply,
  type Pid,
  runTask,
  serverChild,
  start,
  startChild,
  supervisorChild,
  taskPoolChild,
  whichChildren,
} from '@trellis/core';
import { observerChild } from './observer-child.js';
import type { HealthRecordView, HealthSource } from './sources.js';
import { taskPoolSource } from './sources.js';

const STALE_AFTER_MS = 2000;
const FAILED_AFTER_MS = 10_000;

/** Heartbeats by pid; the state is derived from the age of the last beat when read. */
class DemoHeartbeats implements HealthSource {
  readonly #beats = new Map<string, { id: string; last: number | undefined }>();
  register(pid: string, id: string): void {
    this.#beats.set(pid, { id, last: undefined });
  }
  beat(pid: string): void {
    const b = this.#beats.get(pid);
    if (b) b.last = Date.now();
  }
  forget(pid: string): void {
    this.#beats.delete(pid);
  }
  records(): HealthRecordView[] {
    const now = Date.now();
    return [...this.#beats].map(([pid, b]) => {
      const age = b.last === undefined ? 0 : now - b.last;
      const state =
        b.last === undefined
          ? 'initializing'
          : age < STALE_AFTER_MS
            ? 'active'
            : age < FAILED_AFTER_MS
              ? 'stale'
              : 'failed';
      return { pid, id: b.id, state, lastHeartbeatAt: b.last };
    });
  }
}

interface WorkerState {
  readonly timer: NodeJS.Timeout;
}

function worker(beats: DemoHeartbeats, opts: { stopBeatingAfterMs?: number; crashAfterMs?: number }) {
  return defineServer<WorkerState, [string]>({
    init(ctx, id) {
      beats.register(ctx.self, id);
      const started = Date.now();
      const timer = setInterval(() => {
        if (!ctx.alive) return;
        const age = Date.now() - started;
        if (opts.crashAfterMs !== undefined && age > opts.crashAfterMs) ctx.send(ctx.self, 'crash');
        else if (opts.stopBeatingAfterMs === undefined || age < opts.stopBeatingAfterMs) beats.beat(ctx.self);
      }, 400);
      return { timer };
    },
    handleInfo(msg, st) {
      if (msg === 'crash') throw new Error('demo crash: flaky worker gave up');
      return noreply(st);
    },
    terminate(_reason, st, ctx) {
      clearInterval(st.timer);
      beats.forget(ctx.self);
    },
  });
}

export interface Demo {
  readonly app: Application;
  stop(): Promise<void>;
}

export async function startDemo(opts: { port?: number | undefined } = {}): Promise<Demo> {
  const beats = new DemoHeartbeats();
  const poolFile = new URL('./demo-task.js', import.meta.url);
  const app = await start(
    {
      flags: { strategy: 'one_for_one', intensity: 20, periodMs: 60_000 },
      children: [
        observerChild({
          port: opts.port,
          title: 'Trellis observer (demo)',
          health: beats,
          pools: { 'demo-pool': taskPoolSource('demo-pool') },
          announce: false,
        }),
        { id: 'api', start: serverChild(worker(beats, {})), args: ['api'] },
        {
          id: 'jobs',
          type: 'supervisor',
          start: supervisorChild({
            flags: { strategy: 'rest_for_one' },
            children: [
              { id: 'fetcher', start: serverChild(worker(beats, {})), args: ['fetcher'] },
              {
                id: 'indexer',
                start: serverChild(worker(beats, { stopBeatingAfterMs: 8000 })),
                args: ['indexer'],
              },
            ],
          }),
        },
        { id: 'flaky', start: serverChild(worker(beats, { crashAfterMs: 12_000 })), args: ['flaky'] },
        {
          id: 'sessions',
          type: 'supervisor',
          start: supervisorChild({
            flags: { strategy: 'simple_one_for_one' },
            children: [
              {
                id: 'session',
                start: serverChild(worker(beats, {})),
                args: ['session'],
                restart: 'temporary',
              },
            ],
          }),
        },
        {
          id: 'pool',
          start: taskPoolChild({ filename: poolFile, name: 'demo-pool', minThreads: 1, maxThreads: 2 }),
          shutdown: 5000,
        },
      ],
    },
    { handleSignals: false, exitProcess: false },
  );
  for (const c of await whichChildren(app.pid)) {
    if (c.id === 'sessions' && typeof c.pid === 'string' && c.pid !== 'restarting') {
      for (let i = 0; i < 3; i++) await startChild(c.pid as Pid, []);
    }
  }
  const work = setInterval(() => {
    runTask('demo-pool', 200_000).catch(() => {
      // the pool may be restarting; the page shows it
    });
  }, 300);
  return {
    app,
    async stop() {
      clearInterval(work);
      await app.stop();
    },
  };
}
