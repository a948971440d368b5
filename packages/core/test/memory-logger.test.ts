/**
 * createMemoryLogger: the logger an app's tests plug in with setLogger to assert what Trellis
 * reports. A real gen_server crash reaches it as OTP's two records (the behaviour's terminate report
 * and proc_lib's crash report), at error level, with the state as formatStatus shows it; a child
 * logger's bindings land in its records' fields, in the one shared list.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  awaitExit,
  cast,
  createMemoryLogger,
  defineServer,
  getLogger,
  type Pid,
  setLogger,
  startServer,
} from '../src/index.js';

const previous = getLogger();
after(() => setLogger(previous));

test('a crashing gen_server reaches a memory logger as its terminate and crash reports', async () => {
  const log = createMemoryLogger();
  setLogger(log);
  const server = defineServer<{ secret: string; n: number }, []>({
    formatStatus: ({ state, message, reason }) => ({ state: { n: state.n }, message, reason }),
    init: () => ({ secret: 's3cr3t', n: 7 }),
    handleCast: () => {
      throw new Error('boom');
    },
  });
  const pid = (await startServer(server, [], { name: 'memory-logged' })) as Pid;
  const gone = awaitExit(pid);
  cast(pid, 'crash');
  await gone;
  const reports = log.records.filter((r) => r.fields.actor === pid).map((r) => [r.level, r.fields.report]);
  assert.deepEqual(reports, [
    ['error', 'gen_server_terminate'],
    ['error', 'crash_report'],
  ]);
  const terminate = log.records.find((r) => r.fields.report === 'gen_server_terminate')!;
  assert.deepEqual(terminate.fields.state, { n: 7 });
  assert.equal(terminate.fields.name, 'memory-logged');
  assert.match(terminate.msg ?? '', /terminating with reason .*boom/);
  assert.ok(!JSON.stringify(log.records).includes('s3cr3t'));
});

test("a child logger's bindings are in its records' fields, in the parent's list", () => {
  const log = createMemoryLogger();
  const child = log.child({ pool: 'p' }).child({ worker: 1 });
  child.warn({ pid: 42 }, 'hello');
  log.info({}, 'root');
  assert.deepEqual(log.records, [
    { level: 'warn', fields: { pool: 'p', worker: 1, pid: 42 }, msg: 'hello' },
    { level: 'info', fields: {}, msg: 'root' },
  ]);
});
