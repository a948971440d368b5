/** Helpers of the agent tests: an agent process through the `trellis` bin, launch requests, raw tool calls. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceError } from '@grpc/grpc-js';
import { isProcessAlive } from '@trellis/core';
import { createToolClient, JSON_TYPE, type RemoteLaunch, type WorkerHandle } from '@trellis/grpc-bridge';
import type { LaunchReq } from '../src/agent/agent-wire.js';
import { ClusterNode } from '../src/index.js';
import type { Child, Cleanup } from './helpers.js';
import { waitFor } from './helpers.js';

export const AGENT_TOOLS = fileURLToPath(new URL('../../test/fixtures/agent_tools.py', import.meta.url));
export const SECRET = 'a'.repeat(64);

/** A temporary TRELLIS_HOME (the agent's registry), removed by the cleanup. */
export function tempHome(cleanup: Cleanup): string {
  const home = mkdtempSync(join(tmpdir(), 'trellis-agent-home-'));
  cleanup.add(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** `trellis agent` arguments for a plain-TCP agent `node` of `cluster` with a 1 s member TTL. */
export function insecureAgentArgs(
  endpoints: readonly string[],
  cluster: string,
  node: string,
  more: readonly string[] = [],
): string[] {
  return [
    '--cluster',
    cluster,
    '--etcd',
    endpoints.join(','),
    '--node',
    node,
    '--insecure',
    '--member-ttl-ms',
    '1000',
    ...more,
  ];
}

/**
 * An expired certificate (`expired.pem`) for `client.key`, signed by the CA in `dir` (`ca.pem`,
 * `ca.key` from `trellis certs`): openssl, since our own issuer refuses to make one.
 */
export function issueExpiredCert(dir: string): void {
  execFileSync('openssl', ['req', '-new', '-key', 'client.key', '-subj', '/CN=client', '-out', 'exp.csr'], {
    cwd: dir,
    stdio: 'ignore',
  });
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      'exp.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-days',
      '-1',
      '-out',
      'expired.pem',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
}

/** `trellis agent ...` as its own process; resolves with its `agent_ready` line. */
export async function startAgentProcess(
  cleanup: Cleanup,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ child: Child; ready: { node: string; incarnation: number; address: string; pid: number } }> {
  const child = cleanup.child('agent.js', args, env);
  const ready = await child.next((m) => m.event === 'agent_ready', 'the agent to be ready', 30_000);
  return { child, ready };
}

export function launchReq(
  owner: { node: string; incarnation: number },
  extra: Partial<LaunchReq['launch']> = {},
): LaunchReq {
  return {
    owner: { ...owner, pool: 'p' },
    launch: {
      pool: 'p',
      slot: 0,
      tools: [AGENT_TOOLS],
      python: undefined,
      concurrency: 4,
      maxMessageBytes: 4 * 1024 * 1024,
      graceMs: 500,
      startTimeoutMs: 20_000,
      maxRssMb: undefined,
      env: { AGENT_TEST_EXTRA: 'from-the-pool' },
      secret: SECRET,
      hostAddress: undefined,
      ...extra,
    },
  };
}

/** One Execute of `tool` on the worker at `address` (plain TCP, the secret as metadata). */
export async function executeRaw(address: string, tool: string, args: unknown): Promise<unknown> {
  const c = createToolClient(address, 4 * 1024 * 1024, SECRET);
  try {
    return await execute(c, tool, args);
  } finally {
    c.close();
  }
}

/** One Execute of `tool` with a worker's own client (e.g. a RemoteWorker's: mTLS and the secret). */
export function execute(c: WorkerHandle['client'], tool: string, args: unknown): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    c.Execute(
      { tool, payload: { data: Buffer.from(JSON.stringify(args)), contentType: JSON_TYPE } },
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null, r?: { result?: { data?: Buffer } | null }) => {
        if (err) reject(err);
        else resolve(JSON.parse(Buffer.from(r?.result?.data ?? []).toString('utf8')));
      },
    );
  });
}

/** A pool's RemoteLaunch of one worker of the agent tools. */
export function remoteLaunch(extra: Partial<RemoteLaunch> = {}): RemoteLaunch {
  return { ...launchReq({ node: 'x', incarnation: 1 }).launch, ...extra };
}

export function waitGone(pids: readonly number[], what: string, timeoutMs: number): Promise<true> {
  return waitFor(() => pids.every((p) => !isProcessAlive(p)), what, timeoutMs);
}

/** The node the agent tests call agents from: insecure, short member TTL, fast probes; stopped by `cleanup`. */
export async function startClientNode(
  cleanup: Cleanup,
  endpoints: readonly string[],
  cluster: string,
): Promise<ClusterNode> {
  const n = await ClusterNode.start({
    etcd: [...endpoints],
    name: cluster,
    node: 'client',
    insecure: true,
    memberTtlMs: 1000,
    probeIntervalMs: 200,
  });
  cleanup.add(() => n.stop());
  return n;
}
