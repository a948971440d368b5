/**
 * Issue 13, defect 8: bytes that are not a valid protobuf message used to get UNKNOWN carrying
 * protobuf's raw decode error, and a request whose tool name is garbage got NOT_FOUND with the
 * whole tool list. Both now get INVALID_ARGUMENT with a short message. And a tools module that
 * calls sys.exit(0) at import now says what to check instead of "exited with code 0".
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { ToolPool, type WorkerStartError } from '../src/index.js';
import { openTestRun, rejectsWith, type TestRun } from './helpers.js';

const RELIABILITY_TOOLS = fileURLToPath(new URL('../../test/fixtures/reliability_tools.py', import.meta.url));
const EXIT_AT_IMPORT = fileURLToPath(new URL('../../test/fixtures/exit_at_import.py', import.meta.url));

let run: TestRun;
let pool: ToolPool;
before(async () => {
  run = await openTestRun();
  pool = await ToolPool.start({ name: 'malformed', tools: [RELIABILITY_TOOLS], size: 1 });
});
after(async () => {
  await pool.stop();
  await run.close();
});

function rawExecute(bytes: Buffer): Promise<{ code: string; details: string }> {
  const w = pool.stats().workers[0]!;
  const c = new Client(w.address, credentials.createInsecure());
  const md = new Metadata();
  md.set('trellis-secret', pool.workerSecret());
  return new Promise((resolve) => {
    c.makeUnaryRequest(
      '/trellis.bridge.v1.ToolService/Execute',
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      md,
      { deadline: new Date(Date.now() + 5000) },
      (err: ServiceError | null) => {
        c.close();
        resolve(err ? { code: status[err.code]!, details: err.details } : { code: 'OK', details: '' });
      },
    );
  });
}

test('bytes that are not an ExecuteRequest: INVALID_ARGUMENT with a short message', async () => {
  // Field 1 (tool, a string) with a length that overruns the message.
  const overrun = Buffer.from([0x0a, 0x7f, 0x61, 0x62]);
  // A group start (wire type 3) never closed.
  const group = Buffer.from([0x0b, 0x08, 0x01]);
  for (const bytes of [overrun, group]) {
    const r = await rawExecute(bytes);
    assert.equal(r.code, 'INVALID_ARGUMENT', `got ${r.code}: ${r.details}`);
    assert.match(
      r.details,
      /malformed request: \d+ bytes that are not a valid trellis\.bridge\.v1\.ExecuteRequest/,
    );
    assert.ok(r.details.length < 300, r.details);
  }
});

test('a tool name that is not a name (garbage that decoded): INVALID_ARGUMENT, no tool list', async () => {
  const name = Buffer.from('\u0001\u0002zz\u00ff', 'utf8');
  const bytes = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  const r = await rawExecute(bytes);
  assert.equal(r.code, 'INVALID_ARGUMENT', `got ${r.code}: ${r.details}`);
  assert.match(r.details, /is not a tool name/);
  assert.equal(r.details.includes('stderr_line'), false, 'no tool list');
  // The worker still serves.
  assert.equal(typeof (await pool.call('whoami', {})), 'number');
});

test('a tools module that calls sys.exit(0) at import: the start error says what to check', async () => {
  const err = await rejectsWith<WorkerStartError>(
    ToolPool.start({ name: 'exit-import', tools: [EXIT_AT_IMPORT], size: 1 }),
    'ERR_WORKER_START_FAILED',
  );
  assert.match(err.message, /called sys\.exit\(0\) while being imported/);
  assert.match(err.message, /if __name__ == "__main__"/);
});
