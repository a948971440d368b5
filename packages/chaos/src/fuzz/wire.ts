/**
 * Hand-made wire formats for the fuzzers, so that malformed input can be built on purpose: HTTP/2
 * frames (RFC 9113), HPACK literal header fields (RFC 7541), gRPC message framing and protobuf
 * fields with any wire type. Nothing here validates: that is the point.
 */

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const H2 = Object.freeze({
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY_FLAG: 0x20,
});

/** One frame; `lengthField` lets the header lie about the payload's length. */
export function h2Frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer,
  lengthField?: number,
): Buffer {
  const head = Buffer.alloc(9);
  const len = lengthField ?? payload.length;
  head[0] = (len >>> 16) & 0xff;
  head[1] = (len >>> 8) & 0xff;
  head[2] = len & 0xff;
  head[3] = type & 0xff;
  head[4] = flags & 0xff;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export function h2Settings(pairs: readonly (readonly [number, number])[]): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id & 0xffff, i * 6);
    p.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return h2Frame(H2.SETTINGS, 0, 0, p);
}

/** HPACK integer with an N-bit prefix (RFC 7541 5.1); `first` holds the bits above the prefix. */
export function hpackInt(v: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (v < max) return Buffer.from([first | v]);
  const out = [first | max];
  let rest = v - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

/** Literal header fields without indexing, new names (no table state needed on either side). */
export function hpackLiterals(headers: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(headers.flatMap(([n, v]) => [Buffer.from([0x00]), hpackString(n), hpackString(v)]));
}

export function grpcRequestHeaders(path: string, extra: readonly (readonly [string, string])[] = []): Buffer {
  return hpackLiterals([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ]);
}

/** gRPC length-prefixed message: compressed flag, 4-byte length (may lie), bytes. */
export function grpcMessage(msg: Buffer, opts: { compressed?: boolean; lengthField?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head[0] = opts.compressed ? 1 : 0;
  head.writeUInt32BE((opts.lengthField ?? msg.length) >>> 0, 1);
  return Buffer.concat([head, msg]);
}

// ---- protobuf ----------------------------------------------------------------------------------------

export function varint(v: number | bigint): Buffer {
  let n = BigInt(v);
  if (n < 0n) n = (1n << 64n) + n;
  const out: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    out.push(byte);
  } while (n > 0n && out.length < 10);
  return Buffer.from(out);
}

export function pbTag(field: number, wireType: number): Buffer {
  return varint((field << 3) | wireType);
}

/** A length-delimited field (wire type 2); `lengthField` may lie about the length. */
export function pbBytes(field: number, data: Buffer, lengthField?: number): Buffer {
  return Buffer.concat([pbTag(field, 2), varint(lengthField ?? data.length), data]);
}

export function pbString(field: number, s: string): Buffer {
  return pbBytes(field, Buffer.from(s, 'utf8'));
}

export function pbVarint(field: number, v: number | bigint): Buffer {
  return Buffer.concat([pbTag(field, 0), varint(v)]);
}

/** A well-formed trellis.bridge.v1.ExecuteRequest (tool = 1, payload = 2 {data = 1, content_type = 2}). */
export function executeRequest(
  tool: string,
  data: Buffer,
  contentType = 'application/json',
  extra: Buffer = Buffer.alloc(0),
): Buffer {
  const payload = Buffer.concat([pbBytes(1, data), pbString(2, contentType)]);
  return Buffer.concat([pbString(1, tool), pbBytes(2, payload), pbString(3, 'fuzz'), extra]);
}

export const TOOL_SERVICE = '/trellis.bridge.v1.ToolService';
