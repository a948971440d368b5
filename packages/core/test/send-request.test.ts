/**
 * Asynchronous requests, ported from gen_server_SUITE's send_request cases: send_request with
 * receive_response, wait_response and check_response, for one request id and for request-id
 * collections (reqids_*). Time-outs run on a SimulatedClock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  type CallError,
  type CallFrom,
  cast,
  checkResponse,
  currentNode,
  defineServer,
  Exit,
  exit,
  noreply,
  type Pid,
  receiveResponse,
  reply,
  reqIdsAdd,
  reqIdsNew,
  reqIdsSize,
  reqIdsToList,
  SimulatedClock,
  sendRequest,
  settle,
  startServer,
  stopServer,
  waitResponse,
} from '../src/index.js';
import { assertClean } from './fixtures/app-otp-kit.js';

afterEach(() => {
  assert.equal(currentNode().calls.size, 0, 'requests left outstanding');
  assertClean();
});

/** Answers 'echo' at once; holds 'hold' until a 'release' cast; crashes on 'crash'. */
const server = defineServer({
  init: (_ctx, id: string) => ({ id, held: [] as CallFrom[] }),
  handleCall: (req: { op: 'echo' | 'hold' | 'crash'; v?: unknown }, from, s) => {
    if (req.op === 'crash') throw new Error('crash');
    if (req.op === 'hold') return noreply({ ...s, held: [...s.held, from] });
    return reply([s.id, req.v], s);
  },
  handleCast: (_m: 'release', s, ctx) => {
    for (const f of s.held) ctx.reply(f, [s.id, 'released']);
    return noreply({ ...s, held: [] });
  },
});

async function servers(n: number): Promise<Pid[]> {
  const out: Pid[] = [];
  for (let i = 0; i < n; i++) out.push((await startServer(server, [`s${i}`])) as Pid);
  return out;
}

async function stopAll(pids: Pid[]): Promise<void> {
  for (const p of pids) await stopServer(p);
}

describe('one request id', () => {
  test('send_request + receive_response', async () => {
    const [s] = await servers(1);
    const id = sendRequest(s!, { op: 'echo', v: 1 });
    assert.deepEqual(await receiveResponse(id), { status: 'reply', value: ['s0', 1] });
    await stopAll([s!]);
  });

  test('receive_response time-out abandons the request: its late reply is dropped', async () => {
    const clock = new SimulatedClock();
    const [s] = await servers(1);
    const id = sendRequest(s!, { op: 'hold' });
    const waiting = receiveResponse(id, 100, { clock });
    await clock.advance(100);
    assert.deepEqual(await waiting, { status: 'timeout' });
    cast(s!, 'release');
    await settle();
    assert.equal(checkResponse(id), 'no_reply');
    await stopAll([s!]);
  });

  test('wait_response time-out keeps the request: a later wait gets the reply', async () => {
    const clock = new SimulatedClock();
    const [s] = await servers(1);
    const id = sendRequest(s!, { op: 'hold' });
    const first = waitResponse(id, 100, { clock });
    await clock.advance(100);
    assert.deepEqual(await first, { status: 'timeout' });
    cast(s!, 'release');
    assert.deepEqual(await waitResponse(id, 100, { clock }), { status: 'reply', value: ['s0', 'released'] });
    await stopAll([s!]);
  });

  test('check_response answers no_reply until the reply is there, then the reply once', async () => {
    const [s] = await servers(1);
    const id = sendRequest(s!, { op: 'hold' });
    assert.equal(checkResponse(id), 'no_reply');
    cast(s!, 'release');
    await settle();
    assert.deepEqual(checkResponse(id), { status: 'reply', value: ['s0', 'released'] });
    assert.equal(checkResponse(id), 'no_reply');
    await stopAll([s!]);
  });

  test('a server that dies, or none, gives an error response with the call error', async () => {
    const [s] = await servers(1);
    const dead = sendRequest(s!, { op: 'crash' });
    const r = await receiveResponse(dead);
    assert.equal(r.status, 'error');
    assert.equal((r as { error: CallError }).error.code, 'ERR_CALL_SERVER_EXITED');
    const none = await receiveResponse(sendRequest('nobody-here', { op: 'echo' }));
    assert.equal((none as { error: CallError }).error.code, 'ERR_NOPROC');
    exit(s!, 'kill');
  });
});

describe('request id collections (reqids_*)', () => {
  test('fan-out to many servers: every response comes with its label, then no_request', async () => {
    const ss = await servers(5);
    let coll = reqIdsNew<unknown, string>();
    for (const [i, s] of ss.entries()) coll = sendRequest(s, { op: 'echo', v: i }, `label-${i}`, coll);
    assert.equal(reqIdsSize(coll), 5);
    const got: unknown[] = [];
    for (;;) {
      const r = await receiveResponse(coll);
      if (r === 'no_request') break;
      assert.equal(r.status, 'reply');
      got.push([(r as { label: string }).label, (r as { value: unknown }).value]);
    }
    assert.deepEqual(
      got.sort(),
      ss.map((_, i) => [`label-${i}`, [`s${i}`, i]]),
    );
    assert.equal(reqIdsSize(coll), 0);
    await stopAll(ss);
  });

  test('delete=false keeps the request id in the collection; reqIdsAdd and reqIdsToList', async () => {
    const [a, b] = await servers(2);
    const coll = reqIdsNew<unknown, string>();
    const idA = sendRequest(a!, { op: 'echo', v: 'a' });
    reqIdsAdd(coll, idA, 'A');
    sendRequest(b!, { op: 'hold' }, 'B', coll);
    assert.deepEqual(
      reqIdsToList(coll).map(([, l]) => l),
      ['A', 'B'],
    );
    const r = await waitResponse(coll, Number.POSITIVE_INFINITY, false);
    assert.deepEqual(r, { status: 'reply', value: ['s0', 'a'], label: 'A' });
    assert.equal(reqIdsSize(coll), 2);
    assert.equal(checkResponse(coll), 'no_reply');
    cast(b!, 'release');
    assert.deepEqual(await receiveResponse(coll), { status: 'reply', value: ['s1', 'released'], label: 'B' });
    await stopAll([a!, b!]);
  });

  test('receive_response time-out on a collection abandons every request in it', async () => {
    const clock = new SimulatedClock();
    const ss = await servers(3);
    const coll = reqIdsNew();
    for (const s of ss) sendRequest(s, { op: 'hold' }, s, coll);
    const waiting = receiveResponse(coll, 50, true, { clock });
    await clock.advance(50);
    assert.deepEqual(await waiting, { status: 'timeout' });
    assert.equal(reqIdsSize(coll), 0);
    assert.equal(await receiveResponse(coll), 'no_request');
    for (const s of ss) cast(s, 'release');
    await settle();
    await stopAll(ss);
  });

  test('a collection of 64 requests to one server all settle (the bench fan-out)', async () => {
    const [s] = await servers(1);
    const coll = reqIdsNew<unknown, number>();
    for (let i = 0; i < 64; i++) sendRequest(s!, { op: 'echo', v: i }, i, coll);
    const labels: number[] = [];
    for (let r = await receiveResponse(coll); r !== 'no_request'; r = await receiveResponse(coll))
      labels.push((r as { label: number }).label);
    assert.deepEqual(
      labels.sort((x, y) => x - y),
      [...Array(64).keys()],
    );
    await stopServer(s!, Exit.normal);
  });
});
