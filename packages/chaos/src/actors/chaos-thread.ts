/**
 * The thread actor of the chaos tree (a gen_server that runs in a worker thread of its own). Its
 * calls are the load (`work`) and the thread faults: an exception in a callback, `process.exit`, an
 * uncaught exception in a timer, and allocation until the thread's resourceLimits end it.
 */
import { defineServer, noreply, reply } from '@trellis/core/actor';
import { workHash } from './work-hash.js';

export type ThreadRequest =
  | { readonly op: 'work'; readonly n: number }
  | { readonly op: 'throw' }
  | { readonly op: 'exit' }
  | { readonly op: 'uncaught' }
  | { readonly op: 'oom' };

interface State {
  readonly index: number;
  served: number;
  readonly hoard: unknown[];
}

export const THROWN_MESSAGE = 'chaos: thrown in handleCall';

export default defineServer<State, [number]>({
  init: (_ctx, index) => ({ index, served: 0, hoard: [] }),
  handleCall(req: ThreadRequest, _from, s) {
    switch (req.op) {
      case 'work':
        s.served++;
        return reply({ index: s.index, h: workHash(req.n), served: s.served }, s);
      case 'throw':
        throw new Error(THROWN_MESSAGE);
      case 'exit':
        process.exit(7);
        break;
      case 'uncaught':
        // Escapes to the thread's event loop: Node ends the thread (ERR_THREAD_UNCAUGHT).
        setTimeout(() => {
          throw new Error('chaos: uncaught in a timer');
        }, 0);
        return noreply(s);
      case 'oom':
        // Grows the old generation until the thread's resourceLimits end it (ERR_THREAD_OUT_OF_MEMORY).
        for (;;) s.hoard.push(new Array(1 << 16).fill(s.hoard.length));
    }
    return noreply(s);
  },
});
