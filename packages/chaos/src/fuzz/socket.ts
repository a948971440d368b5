/**
 * Raw bytes at a Python worker's listening socket (its Unix socket, or its loopback TCP port):
 * random bytes, a valid HTTP/2 preface followed by garbage, random and malformed frames, protocol
 * violations, garbage HPACK, and well-formed gRPC requests carrying broken gRPC framing.
 *
 * The clean answer is a protocol-level refusal: the server sends GOAWAY or closes the connection
 * (or, for an incomplete but valid prefix, waits for more). Whatever it does, the worker process
 * must live on and serve the next good call; the driver checks that after every input.
 */
import { connect, type Socket } from 'node:net';
import { CHAOS_DEFAULTS } from '../defaults.js';
import type { Prng } from '../prng.js';
import { hexHead, type Tally } from './tally.js';
import {
  grpcMessage,
  grpcRequestHeaders,
  H2,
  H2_PREFACE,
  h2Frame,
  h2Settings,
  TOOL_SERVICE,
} from './wire.js';

const EMPTY_SETTINGS = h2Settings([]);

type Gen = (rng: Prng) => Buffer;

/** The input families, each a function of the fuzz stream. */
export const SOCKET_INPUTS: readonly (readonly [string, Gen])[] = [
  ['random bytes', (r) => r.bytes(r.int(1, 4096))],
  ['preface + random', (r) => Buffer.concat([H2_PREFACE, r.bytes(r.int(1, 2048))])],
  ['truncated preface', (r) => H2_PREFACE.subarray(0, r.int(1, H2_PREFACE.length))],
  [
    'random frames',
    (r) => {
      const frames = Array.from({ length: r.int(1, 8) }, () => {
        const payload = r.bytes(r.int(0, 96));
        const lie = r.chance(0.3) ? r.int(0, 1 << 24) : undefined;
        return h2Frame(
          r.int(0, 16),
          r.int(0, 256),
          r.pick([0, 1, 2, 3, r.uint32() & 0x7fffffff]),
          payload,
          lie,
        );
      });
      return Buffer.concat([H2_PREFACE, EMPTY_SETTINGS, ...frames]);
    },
  ],
  [
    'bad settings',
    (r) => {
      const variants = [
        h2Frame(H2.SETTINGS, 0, 0, r.bytes(r.int(1, 5))), // length not a multiple of 6
        h2Settings([[2, 2]]), // ENABLE_PUSH must be 0 or 1
        h2Settings([[4, 0x80000000]]), // INITIAL_WINDOW_SIZE above 2^31-1
        h2Settings([[5, 100]]), // MAX_FRAME_SIZE below 16384
        h2Frame(H2.SETTINGS, H2.ACK, 0, r.bytes(6)), // ACK with a payload
        h2Frame(H2.SETTINGS, 0, 1, Buffer.alloc(0)), // on a stream
      ];
      return Buffer.concat([H2_PREFACE, r.pick(variants)]);
    },
  ],
  [
    'protocol violations',
    (r) => {
      const variants = [
        h2Frame(H2.DATA, 0, 0, r.bytes(8)), // DATA on stream 0
        h2Frame(H2.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)), // zero increment
        h2Frame(H2.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])), // window overflow
        h2Frame(H2.PING, 0, 0, r.bytes(7)), // PING must be 8 bytes
        h2Frame(H2.RST_STREAM, 0, 3, Buffer.alloc(4)), // RST on an idle stream
        h2Frame(H2.PRIORITY, 0, 1, Buffer.from([0, 0, 0, 1, 16])), // depends on itself
        h2Frame(H2.CONTINUATION, H2.END_HEADERS, 1, r.bytes(10)), // CONTINUATION without HEADERS
        h2Frame(H2.GOAWAY, 0, 0, r.bytes(r.int(0, 40))),
        h2Frame(H2.PUSH_PROMISE, H2.END_HEADERS, 1, r.bytes(12)), // clients may not push
        h2Frame(H2.HEADERS, H2.END_HEADERS, 2, grpcRequestHeaders(`${TOOL_SERVICE}/Describe`)), // even stream id
        h2Frame(H2.DATA, 0, 0, Buffer.alloc(0), 0xffffff), // huge length, then nothing
      ];
      return Buffer.concat([H2_PREFACE, EMPTY_SETTINGS, r.pick(variants)]);
    },
  ],
  [
    'garbage HPACK',
    (r) =>
      Buffer.concat([
        H2_PREFACE,
        EMPTY_SETTINGS,
        h2Frame(H2.HEADERS, H2.END_HEADERS | (r.chance(0.5) ? H2.END_STREAM : 0), 1, r.bytes(r.int(1, 200))),
      ]),
  ],
  [
    'gRPC request, garbage message',
    (r) =>
      Buffer.concat([
        H2_PREFACE,
        EMPTY_SETTINGS,
        h2Frame(
          H2.HEADERS,
          H2.END_HEADERS,
          1,
          grpcRequestHeaders(
            `${TOOL_SERVICE}/${r.pick(['Execute', 'Describe', 'Heartbeat', 'Ping', 'Health', 'EndSession', 'ExecuteStream', 'Nope'])}`,
          ),
        ),
        h2Frame(H2.DATA, H2.END_STREAM, 1, grpcMessage(r.bytes(r.int(0, 512)))),
      ]),
  ],
  [
    'gRPC request, broken framing',
    (r) => {
      const msg = r.bytes(r.int(0, 64));
      const variants = [
        grpcMessage(msg, { lengthField: msg.length + r.int(1, 1 << 20) }), // claims more than sent
        grpcMessage(msg, { compressed: true }), // compressed flag, no grpc-encoding
        grpcMessage(msg, { lengthField: 0xffffffff }), // 4 GiB
        msg.subarray(0, Math.min(4, msg.length)), // shorter than the 5-byte prefix
      ];
      return Buffer.concat([
        H2_PREFACE,
        EMPTY_SETTINGS,
        h2Frame(
          H2.HEADERS,
          H2.END_HEADERS,
          1,
          grpcRequestHeaders(`${TOOL_SERVICE}/Execute`, r.chance(0.3) ? [['grpc-encoding', 'bogus']] : []),
        ),
        h2Frame(H2.DATA, H2.END_STREAM, 1, r.pick(variants)),
      ]);
    },
  ],
];

export type SocketAddress = { readonly path: string } | { readonly host: string; readonly port: number };

/** `unix:/path` or `127.0.0.1:port` (a worker's address) as a net.connect target. */
export function parseAddress(address: string): SocketAddress {
  if (address.startsWith('unix:')) return { path: address.slice('unix:'.length) };
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/**
 * Writes one input and watches the server's answer for up to `watchMs`. Resolves with how it
 * ended: `goaway` (a GOAWAY frame came back), `rst_stream` (the stream was refused), `grpc status`
 * (a trailers-only response), `closed` (the server ended the connection), `reset`, `silent` (still
 * open, waiting for more: right for an incomplete prefix) or `refused` (nobody listens: the worker
 * is gone).
 */
export function sendRaw(addr: SocketAddress, input: Buffer, watchMs: number): Promise<string> {
  return new Promise((resolve) => {
    let sock: Socket;
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (how: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(how);
    };
    const answered = (): string | undefined => {
      const types = serverFrames(got);
      if (types.includes('goaway')) return 'goaway';
      if (types.includes('rst_stream')) return 'rst_stream';
      if (types.includes('grpc status')) return 'grpc status';
      return undefined;
    };
    const timer = setTimeout(() => finish(answered() ?? 'silent'), watchMs);
    sock = 'path' in addr ? connect(addr.path) : connect(addr.port, addr.host);
    sock.on('connect', () => sock.write(input));
    sock.on('data', (d: Buffer) => {
      if (got.length < 65536) got = Buffer.concat([got, d]);
      const a = answered();
      if (a !== undefined) finish(a);
    });
    sock.on('end', () => finish(answered() ?? 'closed'));
    sock.on('close', () => finish(answered() ?? 'closed'));
    sock.on('error', (e: NodeJS.ErrnoException) =>
      finish(
        e.code === 'ECONNREFUSED' || e.code === 'ENOENT'
          ? 'refused'
          : e.code === 'ECONNRESET' || e.code === 'EPIPE'
            ? 'reset'
            : `error ${e.code}`,
      ),
    );
  });
}

/** The kinds of answer among the server's frames (walked from the start of what it sent). */
function serverFrames(b: Buffer): string[] {
  const out: string[] = [];
  let off = 0;
  for (let i = 0; i < 1000 && off + 9 <= b.length; i++) {
    const len = (b[off]! << 16) | (b[off + 1]! << 8) | b[off + 2]!;
    const type = b[off + 3];
    const flags = b[off + 4]!;
    const stream = b.readUInt32BE(off + 5) & 0x7fffffff;
    if (type === H2.GOAWAY) out.push('goaway');
    else if (type === H2.RST_STREAM) out.push('rst_stream');
    else if (type === H2.HEADERS && stream > 0 && (flags & H2.END_STREAM) !== 0) out.push('grpc status');
    off += 9 + len;
  }
  return out;
}

export async function fuzzSocket(
  rng: Prng,
  count: number,
  targets: readonly { name: string; address: () => string }[],
  tally: Tally,
  servesAfter: () => Promise<string | undefined>,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const target = targets[i % targets.length]!;
    const [family, gen] = rng.pick(SOCKET_INPUTS);
    const input = gen(rng);
    const how = await sendRaw(parseAddress(target.address()), input, CHAOS_DEFAULTS.fuzzSocketWatchMs);
    tally.add(
      how,
      how !== 'refused' && !how.startsWith('error'),
      () => `${family} at ${target.name}: ${hexHead(input)}`,
    );
    const problem = await servesAfter();
    if (problem !== undefined)
      tally.notServing(`after ${family} at ${target.name} (${hexHead(input)}): ${problem}`);
  }
}
