/**
 * Malformed and oversized protobuf messages, sent with @grpc/grpc-js and an identity serializer so
 * the request message is exactly the bytes built here: random bytes, mutated valid requests, wrong
 * wire types, lengths that overrun, deep nesting, an unknown tool, a bad JSON payload, and messages
 * over the worker's --max-message-bytes. Every method of the ToolService gets some.
 *
 * The clean answer is a gRPC status (INVALID_ARGUMENT, INTERNAL, NOT_FOUND, RESOURCE_EXHAUSTED, ...)
 * or a normal answer when the bytes happen to decode to a valid request. Not clean: no answer before
 * the deadline (the worker hung) or UNAVAILABLE (the worker went away). The worker must serve the
 * next good call.
 */
import {
  Client,
  credentials,
  InterceptingCall,
  type Interceptor,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import type { Prng } from '../prng.js';
import { hexHead, type Tally } from './tally.js';
import { executeRequest, pbBytes, pbString, pbTag, pbVarint, TOOL_SERVICE, varint } from './wire.js';

type Gen = (rng: Prng, maxBytes: number) => { method: string; msg: Buffer };

const METHODS = ['Execute', 'Describe', 'Heartbeat', 'Ping', 'Health', 'EndSession'];

function mutate(rng: Prng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let k = rng.int(1, 6); k > 0 && out.length > 0; k--) out[rng.int(0, out.length)] = rng.int(0, 256);
  return rng.chance(0.4) ? out.subarray(0, rng.int(0, out.length)) : out;
}

export const PROTOBUF_INPUTS: readonly (readonly [string, Gen])[] = [
  ['random bytes', (r) => ({ method: r.pick(METHODS), msg: r.bytes(r.int(0, 2048)) })],
  [
    'mutated Execute',
    (r) => ({
      method: 'Execute',
      msg: mutate(r, executeRequest('echo', Buffer.from(JSON.stringify({ value: r.int(0, 1e6) })))),
    }),
  ],
  [
    'wrong wire types',
    (r) => ({
      method: 'Execute',
      msg: Buffer.concat([
        r.chance(0.5) ? pbVarint(1, r.uint32()) : Buffer.concat([pbTag(1, 1), r.bytes(8)]), // tool as varint / fixed64
        r.chance(0.5) ? pbVarint(2, 7) : Buffer.concat([pbTag(2, 5), r.bytes(4)]), // payload as varint / fixed32
        pbBytes(6, r.bytes(3)), // idempotent (bool) as bytes
        Buffer.concat([pbTag(r.int(1, 20), r.pick([3, 4, 6, 7])), r.bytes(4)]), // group / reserved wire types
      ]),
    }),
  ],
  [
    'length overruns',
    (r) => ({
      method: r.pick(['Execute', 'Ping']),
      msg: pbBytes(r.pick([1, 2, 3]), r.bytes(r.int(0, 32)), r.int(33, 1 << 30)),
    }),
  ],
  [
    'deep nesting',
    (r) => {
      let m = pbString(1, 'x');
      for (let d = r.int(50, 400); d > 0; d--) m = pbBytes(2, m);
      return { method: 'Execute', msg: Buffer.concat([pbString(1, 'echo'), m]) };
    },
  ],
  [
    'unknown tool',
    (r) => ({
      method: 'Execute',
      msg: executeRequest(`fuzz_${r.bytes(6).toString('hex')}`, Buffer.from('{}')),
    }),
  ],
  [
    'bad payload',
    (r) => {
      const variants: [Buffer, string][] = [
        [r.bytes(r.int(1, 256)), 'application/json'],
        [Buffer.from('{"value": '), 'application/json'],
        [Buffer.from('[1,2,3]'), 'application/json'],
        [
          Buffer.from('{"value": 1}'),
          r.pick(['text/html', '', 'application/octet-stream', 'application/json; charset=latin1']),
        ],
        [Buffer.from(`{"value": "${'\\ud800'}"}`), 'application/json'],
      ];
      const [data, type] = r.pick(variants);
      return { method: 'Execute', msg: executeRequest(r.pick(['echo', 'add', 'order']), data, type) };
    },
  ],
  [
    'huge varints',
    (r) => ({
      method: 'Execute',
      msg: Buffer.concat([pbString(1, 'echo'), pbTag(5, 0), Buffer.alloc(r.int(10, 40), 0xff), varint(1)]),
    }),
  ],
  [
    'oversized',
    (r, max) => ({
      method: r.pick(['Execute', 'Ping']),
      msg: pbBytes(1, Buffer.alloc(max + r.int(1, 4096), 0x61)),
    }),
  ],
];

/**
 * A raw client per worker address (and secret), kept while its address stays the same. With a
 * secret every call carries it as the pool's own client does (grpc-bridge protos.ts), so the
 * fuzzed bytes reach the worker's decoder; without one the worker must refuse them unread.
 */
export class RawClients {
  #clients = new Map<string, Client>();

  get(address: string, secret?: string | undefined): Client {
    const key = `${address}\0${secret ?? ''}`;
    let c = this.#clients.get(key);
    if (c === undefined) {
      const interceptors: Interceptor[] =
        secret === undefined
          ? []
          : [
              (options, nextCall) =>
                new InterceptingCall(nextCall(options), {
                  start(metadata, listener, next) {
                    metadata.set('trellis-secret', secret);
                    next(metadata, listener);
                  },
                }),
            ];
      c = new Client(address, credentials.createInsecure(), {
        interceptors,
        'grpc.max_send_message_length': -1,
        'grpc.max_receive_message_length': -1,
        'grpc.enable_retries': 0,
        'grpc.use_local_subchannel_pool': 1,
      });
      this.#clients.set(key, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}

const id = (b: Buffer): Buffer => b;

/** One raw unary call; resolves with `ok` or the status name. */
export function rawUnary(client: Client, method: string, msg: Buffer, deadlineMs: number): Promise<string> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `${TOOL_SERVICE}/${method}`,
      id,
      id,
      msg,
      { deadline: new Date(Date.now() + deadlineMs) },
      (err: ServiceError | null) => resolve(err ? (status[err.code] ?? `STATUS_${err.code}`) : 'ok'),
    );
  });
}

/** A raw server-streaming call (ExecuteStream); resolves with `ok` or the status name. */
export function rawStream(client: Client, msg: Buffer, deadlineMs: number): Promise<string> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(`${TOOL_SERVICE}/ExecuteStream`, id, id, msg, {
      deadline: new Date(Date.now() + deadlineMs),
    });
    call.on('data', () => {});
    call.on('error', (err: ServiceError) => resolve(status[err.code] ?? `STATUS_${err.code}`));
    call.on('end', () => resolve('ok'));
  });
}

// UNKNOWN: a request that does not decode must get INVALID_ARGUMENT, not protobuf's raw error
// (issue 13, defect 8).
const NOT_CLEAN = new Set(['DEADLINE_EXCEEDED', 'UNAVAILABLE', 'UNKNOWN']);
/** Share of inputs sent without the pool's secret: each must be refused with UNAUTHENTICATED. */
const UNAUTHENTICATED_SHARE = 0.1;

export async function fuzzProtobuf(
  rng: Prng,
  count: number,
  targets: readonly { name: string; address: () => string; secret?: (() => string) | undefined }[],
  maxBytes: number,
  tally: Tally,
  servesAfter: () => Promise<string | undefined>,
): Promise<void> {
  const clients = new RawClients();
  try {
    for (let i = 0; i < count; i++) {
      const target = targets[i % targets.length]!;
      const [family, gen] = rng.pick(PROTOBUF_INPUTS);
      const { method, msg } = gen(rng, maxBytes);
      const anonymous = target.secret !== undefined && rng.chance(UNAUTHENTICATED_SHARE);
      const client = clients.get(target.address(), anonymous ? undefined : target.secret?.());
      const streaming = method === 'Execute' && rng.chance(0.2);
      const how = streaming ? await rawStream(client, msg, 3000) : await rawUnary(client, method, msg, 3000);
      const expectExhausted = family === 'oversized';
      // Without the secret the only right answer is UNAUTHENTICATED (an oversized message may be
      // refused by gRPC's size limit before the worker's check runs).
      const clean = anonymous
        ? how === 'UNAUTHENTICATED' || (expectExhausted && how === 'RESOURCE_EXHAUSTED')
        : expectExhausted
          ? how === 'RESOURCE_EXHAUSTED'
          : !NOT_CLEAN.has(how) && how !== 'UNAUTHENTICATED';
      tally.add(
        anonymous ? `${how} (no secret)` : how,
        clean,
        () =>
          `${family} -> ${streaming ? 'ExecuteStream' : method} at ${target.name}${anonymous ? ' without the secret' : ''}: ${hexHead(msg)}`,
      );
      const problem = await servesAfter();
      if (problem !== undefined)
        tally.notServing(`after ${family} -> ${method} at ${target.name}: ${problem}`);
    }
  } finally {
    clients.close();
  }
}
