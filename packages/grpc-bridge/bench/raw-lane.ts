/**
 * The raw side of the call-lane benchmarks: clients of bare_lane_server.py, which has no SDK.
 *
 *   RawSocketEcho   Node <-> Python over a framed Unix socket (uint32 LE length + bytes), replies
 *                   in order, writes batched per tick on both sides: the physical floor of a
 *                   round trip between the two processes on this machine.
 *   RawBidiEcho     the same echo as messages of one grpc-js <-> grpc.aio bidi stream (no
 *                   protobuf): one call per message, or (`batched`) every call of a tick in one
 *                   message. This is the lane design that was measured and not chosen.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { resolvePython } from '../src/index.js';

export const BARE_LANE_SERVER = fileURLToPath(new URL('../../bench/bare_lane_server.py', import.meta.url));

export interface BareLaneServer {
  readonly child: ChildProcess;
  readonly grpcAddress: string;
  readonly socketPath: string;
  stop(): Promise<void>;
}

export function startBareLane(grpcSocket: string, laneSocket: string): Promise<BareLaneServer> {
  const python = resolvePython().command;
  const grpcAddress = `unix:${grpcSocket}`;
  const child = spawn(python, [BARE_LANE_SERVER, grpcAddress, laneSocket, 'trellis-test-marker'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    detached: true, // its own session, like the pool's workers (same scheduling unit)
  });
  child.stdin!.on('error', () => {});
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => reject(new Error(`bare lane server exited with ${code}`));
    child.once('exit', onExit);
    rl.once('line', (line) => {
      child.off('exit', onExit);
      if (line !== 'READY') {
        child.kill('SIGKILL');
        reject(new Error(`bare lane server said ${line}`));
        return;
      }
      resolve({
        child,
        grpcAddress,
        socketPath: laneSocket,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      });
    });
  });
}

/** Splits length-prefixed frames out of a byte stream. */
function frames(onFrame: (b: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer | undefined;
  return (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const end = pos + 4 + buf.readUInt32LE(pos);
      if (end > buf.length) break;
      onFrame(buf.subarray(pos + 4, end));
      pos = end;
    }
    if (pos < buf.length) {
      buf = buf.subarray(pos);
      pending = buf;
    }
  };
}

function frame(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32LE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** Echo calls over a raw framed Unix socket; replies come back in order. */
export class RawSocketEcho {
  readonly #socket: Socket;
  readonly #waiting: ((b: Buffer) => void)[] = [];
  #head = 0;
  #out: Buffer[] = [];
  #queued = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on(
      'data',
      frames((b) => {
        const r = this.#waiting[this.#head]!;
        this.#waiting[this.#head++] = undefined as never;
        if (this.#head > 4096 && this.#head * 2 > this.#waiting.length) {
          this.#waiting.splice(0, this.#head);
          this.#head = 0;
        }
        r(b);
      }),
    );
  }

  static async connect(path: string): Promise<RawSocketEcho> {
    const s = connect(path);
    await new Promise<void>((res, rej) => {
      s.once('connect', res);
      s.once('error', rej);
    });
    s.setNoDelay?.(true);
    return new RawSocketEcho(s);
  }

  /** One round trip of a JSON value, encoded and decoded like a call's arguments and result. */
  call(value: unknown): Promise<unknown> {
    this.#out.push(frame(Buffer.from(JSON.stringify(value))));
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(() => {
        this.#queued = false;
        const out = this.#out;
        this.#out = [];
        this.#socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      });
    }
    return new Promise((resolve) => this.#waiting.push((b) => resolve(JSON.parse(b.toString('utf8')))));
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Echo calls as messages of one gRPC bidi stream. */
export class RawBidiEcho {
  readonly #client: grpc.Client;
  readonly #stream: grpc.ClientDuplexStream<Buffer, Buffer>;
  readonly #waiting: ((b: Buffer) => void)[] = [];
  #head = 0;
  #out: Buffer[] = [];
  #queued = false;

  constructor(
    address: string,
    readonly batched: boolean,
  ) {
    this.#client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    });
    this.#stream = this.#client.makeBidiStreamRequest(
      '/bench.Echo/Bidi',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const onFrame = frames((b) => this.#resolve(b));
    this.#stream.on('data', (m: Buffer) => (batched ? onFrame(m) : this.#resolve(m)));
    this.#stream.on('error', () => {});
  }

  #resolve(b: Buffer): void {
    const r = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = undefined as never;
    if (this.#head > 4096 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
    r(b);
  }

  call(value: unknown): Promise<unknown> {
    const body = Buffer.from(JSON.stringify(value));
    if (!this.batched) this.#stream.write(body);
    else {
      this.#out.push(frame(body));
      if (!this.#queued) {
        this.#queued = true;
        queueMicrotask(() => {
          this.#queued = false;
          const out = this.#out;
          this.#out = [];
          this.#stream.write(Buffer.concat(out));
        });
      }
    }
    return new Promise((resolve) => this.#waiting.push((b) => resolve(JSON.parse(b.toString('utf8')))));
  }

  close(): void {
    this.#stream.end();
    this.#client.close();
  }
}
