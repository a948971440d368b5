/**
 * The raw side of the benchmarks: bare grpcio servers (bare_server.py) spawned directly, and raw
 * grpc-js clients of the same ToolService with the same channel options as the pool's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ServiceError } from '@grpc/grpc-js';
import type { ExecuteResponse__Output } from '../src/generated/trellis/bridge/v1/ExecuteResponse.js';
import type { ToolServiceClient } from '../src/generated/trellis/bridge/v1/ToolService.js';
import { resolvePython } from '../src/index.js';
import { createToolClient } from '../src/protos.js';

export const BARE_SERVER = fileURLToPath(new URL('../../bench/bare_server.py', import.meta.url));
export const BENCH_TOOLS = fileURLToPath(new URL('../../bench/bench_tools.py', import.meta.url));
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface BareServer {
  readonly child: ChildProcess;
  readonly address: string;
  stop(): Promise<void>;
}

/** A private directory for the bare servers' sockets. */
export function socketDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Spawns one bare server and resolves when it printed READY. `blocking`: its Execute runs in the
 * loop's default executor (the baseline of a sync tool, which runs on a thread too).
 */
export function startBare(socket: string, blocking = false): Promise<BareServer> {
  const python = resolvePython().command;
  const args = [BARE_SERVER, `unix:${socket}`, ...(blocking ? ['--blocking'] : []), 'trellis-test-marker'];
  const child = spawn(python, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    // Its own session, like the pool's workers (spawnProcess): with scheduler autogroups enabled,
    // a session is a scheduling unit, and the comparison must not hand either side more CPU.
    detached: true,
  });
  child.stdin!.on('error', () => {});
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => reject(new Error(`bare server exited with ${code} before READY`));
    child.once('exit', onExit);
    rl.once('line', (line) => {
      child.off('exit', onExit);
      if (!line.startsWith('READY ')) {
        child.kill('SIGKILL');
        reject(new Error(`bare server said ${line}`));
        return;
      }
      resolve({
        child,
        address: line.slice('READY '.length),
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

/**
 * A connected raw client. `secret`: the pool's per-run worker secret (`pool.workerSecret()`), which
 * a client of a pool's own trellis_worker must send (the worker answers UNAUTHENTICATED without it);
 * the bare servers take none. Attached the way the pool attaches it (createToolClient's interceptor),
 * so a "raw client to the same worker" baseline pays the same per-call metadata as the pool.
 */
export async function rawClient(address: string, secret?: string): Promise<ToolServiceClient> {
  const c = createToolClient(address, MAX_MESSAGE_BYTES, secret);
  await new Promise<void>((res, rej) =>
    c.waitForReady(new Date(Date.now() + 10_000), (e) => (e ? rej(e) : res())),
  );
  return c;
}

/**
 * What a user of the raw client would write: encode the JSON, call, decode the JSON result. With
 * `deadline`, the call carries the same 30 s gRPC deadline a pool call has by default.
 */
export function rawCall(
  c: ToolServiceClient,
  args: unknown,
  deadline = false,
  tool = 'echo',
): Promise<unknown> {
  return new Promise((resolve, reject) =>
    c.Execute(
      { tool, payload: { data: Buffer.from(JSON.stringify(args)), contentType: 'application/json' } },
      deadline ? { deadline: new Date(Date.now() + 30_000) } : {},
      (err: ServiceError | null, r?: ExecuteResponse__Output) =>
        err ? reject(err) : resolve(JSON.parse(r!.result!.data.toString('utf8'))),
    ),
  );
}
