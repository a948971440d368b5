/**
 * Two ways to run the observer with an application:
 *
 * - `observerChild(opts)`: a child spec. Put it FIRST among the top supervisor's children: it then
 *   starts before the others, sees their start events (exact uptimes) and, since supervisors stop
 *   children in reverse order, serves the page until the very end of a shutdown.
 * - `withObserver(app, opts)`: for an application already started with `start(tree)`; the observer
 *   closes when the application ends.
 */
import { type Application, type ChildSpec, defineServer, type Pid, reply, startServer } from '@trellis/core';
import { InvalidObserverOptionsError } from './errors.js';
import {
  normalizeObserverOptions,
  type ObserverHandle,
  type ObserverOptions,
  startObserver,
} from './observer.js';

export interface ObserverChildOptions extends Omit<ObserverOptions, 'self'> {
  /** Child id (default `trellis-observer`). */
  readonly id?: string;
  /** The supervisor to show; default: the one this child is in. */
  readonly root?: Pid | string;
}

const observerServer = defineServer<ObserverHandle, [ObserverChildOptions]>({
  // Reports show where the page is served, never the control token (it lets a holder stop processes).
  formatStatus: ({ state, message, reason }) => ({
    state: state === undefined ? undefined : { url: state.url, port: state.port },
    message,
    reason,
  }),
  async init(ctx, opts) {
    const { id: _id, ...rest } = opts;
    const handle = await startObserver({ ...rest, root: opts.root ?? ctx.parent, self: ctx.self });
    // A killed actor runs no terminate: close the server from an exit monitor, so that no listening
    // socket outlives the actor whatever ends it.
    ctx.node.monitor(() => void handle.close(), ctx.self);
    return handle;
  },
  handleCall(request: unknown, _from, handle) {
    // `call(observer, 'info')` gives the URL and token to code that did not see the start-up lines.
    const { url, port, token } = handle;
    return reply(request === 'info' ? { url, port, token } : undefined, handle);
  },
  async terminate(_reason, handle) {
    await handle.close();
  },
});

/** A child spec that runs the observer (see the module comment for where to put it). */
export function observerChild(opts: ObserverChildOptions = {}): ChildSpec {
  // Validated now, so a bad option fails where the tree is written, not at start-up.
  normalizeObserverOptions({ ...opts, log: false });
  const id = opts.id ?? 'trellis-observer';
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidObserverOptionsError('id must be a non-empty string', { field: 'id' });
  }
  return {
    id,
    start: (ctx) =>
      startServer(
        observerServer,
        [opts],
        { link: ctx.parent, parent: ctx.parent, trapExit: true, clock: ctx.clock },
        ctx.node,
      ),
    restart: 'permanent',
    shutdown: 5000,
    type: 'worker',
  };
}

/** Observes an application started with `start(tree)`; the observer closes when the application ends. */
export async function withObserver(
  app: Application,
  opts: Omit<ObserverOptions, 'root' | 'self'> = {},
): Promise<ObserverHandle> {
  const handle = await startObserver({ ...opts, root: app.pid });
  void app.done.then(() => handle.close());
  return handle;
}
