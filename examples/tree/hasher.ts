/**
 * A thread actor: a gen_server that lives in its own worker thread. The default export is the
 * behaviour; `threadChild(new URL('./hasher.js', import.meta.url))` starts it under a supervisor.
 */
import { createHash } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { defineServer, reply } from '@trellis/core/actor';

export default defineServer({
  init: () => ({ hashed: 0 }),
  handleCall: (text: string, _from, s: { hashed: number }) => {
    if (text === 'crash') throw new Error('hasher crashed on purpose');
    const digest = createHash('sha256').update(text).digest('hex').slice(0, 12);
    return reply({ digest, thread: threadId, hashed: s.hashed + 1 }, { hashed: s.hashed + 1 });
  },
});
