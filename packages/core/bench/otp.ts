/**
 * Figures of the OTP behaviours beyond gen_server, each against gen_server measured in the same run:
 * - gen_statem event throughput (call events answered with a reply action) vs gen_server calls,
 *   1 and 64 in flight; target >= 0.5x;
 * - sendRequest fan-out: 64 requests to 64 servers through one request-id collection, then every
 *   response received, vs 64 parallel `call`s awaited with Promise.all; target >= 1x.
 * Rounds alternate baseline and subject so drift of the machine (other work runs on it) hits both.
 */
import {
  call,
  checkResponse,
  defineStatem,
  exit,
  keepState,
  nextState,
  type Pid,
  receiveResponse,
  reply,
  replyAction,
  reqIdsNew,
  type StatemEvent,
  sendRequest,
  startServer,
  startStatem,
} from '../src/index.js';
import { type BenchResult, median, pause } from './result.js';
import { targets } from './targets.js';

const ROUNDS = 7;

const counterServer = {
  init: () => 0,
  handleCall: (req: number, _f: unknown, s: number) => reply(s + req, s + req),
};

const counterStatem = defineStatem<'counting', number, [], StatemEvent<number>>({
  callbackMode: 'handle_event_function',
  init: () => nextState('counting' as const, 0),
  handleEvent: (ev, _state, n) =>
    ev.type === 'call' ? keepState(n + ev.content, [replyAction(ev.from, n + ev.content)]) : keepState(n),
});

async function drive(pid: Pid, n: number, inFlight: number): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < n) await call<number>(pid, next++);
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return n / ((performance.now() - t0) / 1000);
}

async function serverRate(n: number, inFlight: number): Promise<number> {
  const pid = (await startServer(counterServer, [])) as Pid;
  const r = await drive(pid, n, inFlight);
  exit(pid, 'kill');
  return r;
}

async function statemRate(n: number, inFlight: number): Promise<number> {
  const pid = (await startStatem(counterStatem, [])) as Pid;
  const r = await drive(pid, n, inFlight);
  exit(pid, 'kill');
  return r;
}

export async function benchGenStatem(): Promise<BenchResult[]> {
  const N = 200_000;
  const out: BenchResult[] = [];
  for (const inFlight of [1, 64]) {
    await serverRate(N / 10, inFlight);
    await statemRate(N / 10, inFlight);
    const base: number[] = [];
    const subj: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      base.push(await serverRate(N, inFlight));
      await pause();
      subj.push(await statemRate(N, inFlight));
      await pause();
    }
    const ratio = median(subj) / median(base);
    out.push({
      scope: 'core',
      name: `gen_statem call events, ${inFlight} in flight (events/s)`,
      value: median(subj),
      unit: 'event/s',
      baseline: median(base),
      baselineName: targets.genStatem.baseline,
      ratio,
      target: targets.genStatem,
      samples: subj,
    });
  }
  return out;
}

const FAN = 64;

async function callsFanOut(servers: readonly Pid[], rounds: number): Promise<number> {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) await Promise.all(servers.map((s) => call<number>(s, 1)));
  return (rounds * servers.length) / ((performance.now() - t0) / 1000);
}

async function requestsFanOut(servers: readonly Pid[], rounds: number): Promise<number> {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const coll = reqIdsNew<number, number>();
    for (let i = 0; i < servers.length; i++) sendRequest(servers[i]!, 1, i, coll);
    // Drain what has arrived without waiting (checkResponse), wait only when nothing has.
    for (let left = servers.length; left > 0; left--) {
      let got = checkResponse(coll);
      if (got === 'no_reply') got = await receiveResponse(coll);
      if (got === 'no_request' || got.status !== 'reply')
        throw new Error(`request failed: ${JSON.stringify(got)}`);
    }
  }
  return (rounds * servers.length) / ((performance.now() - t0) / 1000);
}

export async function benchSendRequest(): Promise<BenchResult[]> {
  const servers: Pid[] = [];
  for (let i = 0; i < FAN; i++) servers.push((await startServer(counterServer, [])) as Pid);
  const R = 3000;
  await callsFanOut(servers, R / 10);
  await requestsFanOut(servers, R / 10);
  const base: number[] = [];
  const subj: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    base.push(await callsFanOut(servers, R));
    await pause();
    subj.push(await requestsFanOut(servers, R));
    await pause();
  }
  for (const s of servers) exit(s, 'kill');
  const ratio = median(subj) / median(base);
  return [
    {
      scope: 'core',
      name: `sendRequest fan-out to ${FAN} servers, one collection (requests/s)`,
      value: median(subj),
      unit: 'req/s',
      baseline: median(base),
      baselineName: targets.sendRequest.baseline,
      ratio,
      target: targets.sendRequest,
      samples: subj,
    },
  ];
}
