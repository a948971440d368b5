/**
 * The in-thread gen_servers of the chaos tree: a small key-value store per server. Its state is
 * lost on a crash (the supervisor restarts it empty), so the load checks replies by shape only.
 */
import { defineServer, reply } from '@trellis/core';

export type KvRequest =
  | { readonly op: 'put'; readonly key: string; readonly value: number }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'crash' };

export const CRASH_MESSAGE = 'chaos: crash';

export const kvServer = defineServer<Map<string, number>, []>({
  init: () => new Map(),
  handleCall(req: KvRequest, _from, m) {
    switch (req.op) {
      case 'put':
        m.set(req.key, req.value);
        // Bounded: the load writes at most a few hundred distinct keys.
        if (m.size > 1000) m.clear();
        return reply(m.size, m);
      case 'get':
        return reply(m.get(req.key) ?? null, m);
      case 'crash':
        throw new Error(CRASH_MESSAGE);
    }
  },
});
