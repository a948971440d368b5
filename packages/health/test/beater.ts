/**
 * A gen_server that beats from its own work loop: every `intervalMs` of its clock it does one unit of
 * "work" and sends a heartbeat. `call(pid, 'hang')` pauses the work (and so the beats) while the
 * process stays alive, `resume` resumes it; `cast(pid, 'freeze')` blocks the server for good (its
 * loop awaits something that never comes), which is exactly the failure heartbeats exist for.
 */
import { defineServer, noreply, type Pid, reply, type ServerContext, type TimerHandle } from '@trellis/core';
import { heartbeat } from '../src/index.js';

export interface BeaterArgs {
  readonly intervalMs: number;
  /** Monitor name (this thread) or pid; default `trellis-health`. */
  readonly monitor?: string;
  /** Start hung (never beats). */
  readonly hung?: boolean;
  /** Beat once inside init (before the supervisor registers the pid). */
  readonly beatInInit?: boolean;
  /** Called with the pid when init runs (tests collect incarnations). */
  readonly onInit?: (pid: Pid) => void;
}

interface State {
  readonly args: BeaterArgs;
  hung: boolean;
  work: number;
  timer: TimerHandle | undefined;
}

function arm(s: State, ctx: ServerContext): void {
  s.timer = ctx.clock.setTimeout(() => {
    if (ctx.alive) ctx.send(ctx.self, { type: 'work' });
  }, s.args.intervalMs);
}

export const beater = defineServer<State, [BeaterArgs]>({
  init(ctx, args) {
    args.onInit?.(ctx.self);
    const s: State = { args, hung: args.hung === true, work: 0, timer: undefined };
    if (args.beatInInit) heartbeat(ctx, args.monitor);
    ctx.node.monitor(() => {
      if (s.timer !== undefined) ctx.clock.clearTimeout(s.timer);
    }, ctx.self);
    arm(s, ctx);
    return s;
  },
  handleCall(req: 'hang' | 'resume' | 'work', _from, s) {
    if (req === 'hang') s.hung = true;
    if (req === 'resume') s.hung = false;
    return reply(s.work, s);
  },
  handleCast(msg: 'freeze', s) {
    if (msg === 'freeze') return new Promise<never>(() => {});
    return noreply(s);
  },
  handleInfo(msg: { type: string }, s, ctx) {
    if (msg?.type === 'work') {
      if (!s.hung) {
        s.work++;
        heartbeat(ctx, s.args.monitor);
      }
      arm(s, ctx);
    }
    return noreply(s);
  },
});
