/**
 * Issue 13, defect 5: any local user could call `Execute` on a worker's loopback port and run a
 * tool as the host's user. Every worker now requires the pool's per-run secret (handed over in its
 * environment, never argv, and hidden from its tools); a call without it gets UNAUTHENTICATED.
 * The attacker here is a real second OS user (`nobody`, via setpriv), as root can run it.
 * Also: a TMPDIR too long for a Unix socket path no longer turns the default transport into TCP.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ToolPool } from '../src/index.js';
import { openTestRun, REPO_ROOT, runToExit, type TestRun, VENV_PYTHON } from './helpers.js';

const RELIABILITY_TOOLS = fileURLToPath(new URL('../../test/fixtures/reliability_tools.py', import.meta.url));
const SDK_DIR = join(REPO_ROOT, 'packages', 'python-sdk');
const isRoot = process.getuid?.() === 0;

let run: TestRun;
before(async () => {
  run = await openTestRun();
});
after(async () => {
  await run.close();
});

/**
 * Calls Execute(tool "mark", {path}) on `address` as the user `nobody`, with no secret (or a wrong
 * one): prints the gRPC status name. Bounded by a 5 s deadline.
 */
const ATTACKER = `
import json, sys
import grpc
from trellis_worker._stubs import common_pb2, tool_service_pb2 as pb
address, path, secret = sys.argv[1], sys.argv[2], sys.argv[3]
req = pb.ExecuteRequest(tool="mark", payload=common_pb2.Payload(
    data=json.dumps({"path": path}).encode(), content_type="application/json"))
ch = grpc.insecure_channel(address)
call = ch.unary_unary("/trellis.bridge.v1.ToolService/Execute",
    request_serializer=lambda m: m.SerializeToString(), response_deserializer=lambda b: b)
md = (("trellis-secret", secret),) if secret else ()
try:
    call(req, timeout=5, metadata=md)
    print("OK")
except grpc.RpcError as e:
    print(e.code().name)
`;

/** Calls HostService/CallHostTool("pong") at `address` as `nobody`, without the secret. */
const HOST_ATTACKER = `
import sys
import grpc
from trellis_worker._stubs import host_service_pb2 as pb
ch = grpc.insecure_channel(sys.argv[1])
call = ch.unary_unary("/trellis.bridge.v1.HostService/CallHostTool",
    request_serializer=lambda m: m.SerializeToString(), response_deserializer=lambda b: b)
try:
    call(pb.CallHostToolRequest(tool="pong"), timeout=5)
    print("OK")
except grpc.RpcError as e:
    print(e.code().name)
`;

async function asNobody(address: string, flag: string, secret = '', script = ATTACKER): Promise<string> {
  const r = await runToExit(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', VENV_PYTHON, '-c', script, address, flag, secret],
    { ...process.env, PYTHONPATH: SDK_DIR },
    20_000,
  );
  const last = r.out.trim().split('\n').pop() ?? '';
  if (r.code === 0 && last) return last;
  throw new Error(`attacker exited with ${r.code ?? r.signal}: ${r.err}`);
}

test('another local user gets UNAUTHENTICATED on a TCP worker, and the tool does not run', {
  skip: isRoot ? false : 'needs root to run a client as the user nobody',
}, async () => {
  const pool = await ToolPool.start({
    name: 'secret-tcp',
    tools: [RELIABILITY_TOOLS],
    size: 1,
    transport: 'tcp',
  });
  try {
    const w = pool.stats().workers[0]!;
    assert.match(w.address, /^127\.0\.0\.1:\d+$/);
    const flag = run.flag('mark');
    assert.equal(await asNobody(w.address, flag), 'UNAUTHENTICATED');
    assert.equal(await asNobody(w.address, flag, 'not-the-secret'), 'UNAUTHENTICATED');
    assert.equal(existsSync(flag), false, 'the tool must not have run');
    // The pool's own calls carry the secret.
    assert.equal(await pool.call('mark', { path: flag }), 'ran');
    assert.equal(readFileSync(flag, 'utf8'), 'ran');
    // Never on the command line (readable by every user), and not left for the tools to inherit.
    const cmdline = readFileSync(`/proc/${w.pid}/cmdline`, 'utf8');
    assert.equal(cmdline.includes(pool.workerSecret()), false);
    assert.equal(await pool.call('secret_seen', {}), '');
  } finally {
    await pool.stop();
  }
});

test("another local user gets UNAUTHENTICATED from the host's HostService (host tools) on TCP", {
  skip: isRoot ? false : 'needs root to run a client as the user nobody',
}, async () => {
  let ran = 0;
  const pool = new ToolPool({ name: 'secret-host', tools: [RELIABILITY_TOOLS], size: 1, transport: 'tcp' });
  pool.exposeHostTool('pong', { type: 'object' }, () => {
    ran++;
    return 'pong';
  });
  await pool.start();
  try {
    const w = pool.stats().workers[0]!;
    const argv = readFileSync(`/proc/${w.pid}/cmdline`, 'utf8').split('\0');
    const hostAddress = argv[argv.indexOf('--host-address') + 1]!;
    assert.match(hostAddress, /^127\.0\.0\.1:\d+$/);
    assert.equal(await asNobody(hostAddress, '', '', HOST_ATTACKER), 'UNAUTHENTICATED');
    assert.equal(ran, 0, 'the host tool must not have run');
  } finally {
    await pool.stop();
  }
});

test('another local user cannot reach a Unix-socket worker: the socket directory is 0700', {
  skip: isRoot ? false : 'needs root to run a client as the user nobody',
}, async () => {
  const pool = await ToolPool.start({ name: 'secret-unix', tools: [RELIABILITY_TOOLS], size: 1 });
  try {
    const w = pool.stats().workers[0]!;
    assert.match(w.address, /^unix:/);
    const dir = dirname(w.address.slice('unix:'.length));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const flag = run.flag('mark');
    assert.equal(await asNobody(w.address, flag), 'UNAVAILABLE');
    assert.equal(existsSync(flag), false);
  } finally {
    await pool.stop();
  }
});

test('a TMPDIR too long for a socket path: the pool still listens on a Unix socket', async () => {
  const long = join(run.dir, 'x'.repeat(60), 'y'.repeat(60));
  mkdirSync(long, { recursive: true });
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = long;
  let pool: ToolPool | undefined;
  try {
    pool = await ToolPool.start({ name: 'secret-long', tools: [RELIABILITY_TOOLS], size: 1 });
    const w = pool.stats().workers[0]!;
    assert.match(w.address, /^unix:/, `fell back to ${w.address}`);
    assert.ok(Buffer.byteLength(w.address) - 'unix:'.length <= 107);
    assert.equal(await pool.call('whoami', {}), w.pid);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    await pool?.stop();
    rmSync(long, { recursive: true, force: true });
  }
});
