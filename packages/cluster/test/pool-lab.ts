/**
 * A lab of "machines" for tool pools that span nodes (issue 15): network namespaces `trl-s15c-...`
 * on one Linux bridge (netns.ts), each with an address of a private /24 that exists only inside
 * them: one for etcd, one for the caller (the client tree with the pool), one per agent node.
 *
 * - every agent is its own OS process, started with `ip netns exec` inside its namespace, running
 *   the real `trellis agent` command (fixtures/lab-agent.ts hands its arguments to the CLI);
 * - the caller is a process in the client namespace (fixtures/lab-client.ts), since only a process
 *   inside a namespace reaches the lab's /24;
 * - partitions: `cut(node)` downs the node's link (cut from everyone), `block(node, peers)` drops
 *   its packets to and from some members only (from etcd, from the caller) with nft; no netem here
 *   (shared/cluster-notes.md);
 * - `pythonPids(node)`: the Python processes running on that "machine", found by their network
 *   namespace (/proc/<pid>/ns/net against the namespace's inode). A worker orphaned by its agent's
 *   kill -9 still counts: it stays in the namespace whatever its parent or environment.
 * - `stop()` kills every process it started (by PID), then every process still inside one of the
 *   lab's namespaces (orphans: the tests assert there are none before that), deletes the
 *   namespaces and the lab's temp dir (certificates, TRELLIS_HOMEs, ledger). Nothing is left, even when a test fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { initClusterCa, issueNodeCert, type LocalEtcd } from '../src/index.js';
import { type Child, Cleanup, waitFor } from './helpers.js';
import { NetnsLab, netnsAvailable } from './netns.js';

export const AGENT_PORT = 7400;

export interface PoolLabOptions {
  /** Agent node names (default a1, a2, a3). */
  readonly agents?: readonly string[];
  /** Whether the lab runs agents on mTLS (default true; certs in a temp dir). */
  readonly tls?: boolean;
}

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Why the lab cannot run here (not root, no iproute2/nftables/etcd), or undefined. */
export function poolLabAvailable(): string | undefined {
  return netnsAvailable();
}

let seq = 0;

/** This repository's root (tests and benches run from packages/cluster/dist/...). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The project's Python (`pnpm install` made .venv with grpcio), or TRELLIS_PYTHON. */
export function repoPython(): string {
  return process.env.TRELLIS_PYTHON ?? join(REPO_ROOT, '.venv', 'bin', 'python');
}

export class PoolLab {
  readonly lab: NetnsLab;
  readonly cleanup = new Cleanup();
  readonly agents: readonly string[];
  readonly cluster = `pl${process.pid}x${Date.now().toString(36)}`;
  readonly agentProcs = new Map<string, Child>();
  etcd!: LocalEtcd;
  /** The lab's temp dir: certs/, one TRELLIS_HOME per member, the tools' ledger. */
  dir!: string;
  certsDir: string | undefined;
  #stopped = false;

  private constructor(o: PoolLabOptions) {
    this.agents = o.agents ?? ['a1', 'a2', 'a3'];
    this.lab = new NetnsLab('trl-s15c');
  }

  static async start(o: PoolLabOptions = {}): Promise<PoolLab> {
    const p = new PoolLab(o);
    p.lab.create(['etcd', 'client', ...p.agents]);
    try {
      p.etcd = await p.cleanup.etcd({
        host: p.addr('etcd'),
        port: 2379,
        wrap: p.lab.wrap('etcd'),
        name: 'trellis-test-marker-etcd',
      });
      p.dir = await mkdtemp(join(tmpdir(), 'trellis-s15c-lab-'));
      if (o.tls !== false) {
        const dir = join(p.dir, 'certs');
        p.certsDir = dir;
        await initClusterCa({ dir });
        for (const n of [...p.agents, 'client']) await issueNodeCert(n, { dir });
      }
    } catch (e) {
      await p.stop();
      throw e;
    }
    return p;
  }

  addr(member: string): string {
    return this.lab.member(member).addr;
  }

  /** The file every execution of pool_tools.py's work/charge appends one line to. */
  get ledger(): string {
    return join(this.dir, 'ledger');
  }

  /** The ledger's lines as [tool, id, node, pid]. */
  ledgerLines(): [string, string, string, string][] {
    let text = '';
    try {
      text = readFileSync(this.ledger, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string, string, string]);
  }

  /** The environment of a process on a member's "machine": its own TRELLIS_HOME, its node name. */
  env(member: string): Record<string, string> {
    return { TRELLIS_HOME: join(this.dir, `home-${member}`), TRELLIS_LAB_NODE: member };
  }

  /** The PEM files of a member's certificate (the CA's, the member's pair). */
  tls(member: string): TlsFiles {
    if (this.certsDir === undefined) throw new Error('this lab runs without TLS');
    return {
      ca: join(this.certsDir, 'ca.pem'),
      cert: join(this.certsDir, `${member}.pem`),
      key: join(this.certsDir, `${member}.key`),
    };
  }

  /** The arguments of `trellis agent` for this node (cluster, etcd, node, listen, certs). */
  agentArgs(node: string, more: readonly string[] = []): string[] {
    return [
      'agent',
      '--cluster',
      this.cluster,
      '--etcd',
      this.etcd.endpoints.join(','),
      '--node',
      node,
      '--listen',
      `${this.addr(node)}:${AGENT_PORT}`,
      ...(this.certsDir === undefined ? ['--insecure'] : ['--certs', this.certsDir]),
      ...more,
    ];
  }

  /** Starts `trellis agent` for the node inside its namespace (a new process each call). */
  startAgent(node: string, more: readonly string[] = []): Child {
    const c = this.cleanup.child(
      'lab-agent.js',
      this.agentArgs(node, more),
      this.env(node),
      this.lab.wrap(node),
    );
    this.agentProcs.set(node, c);
    return c;
  }

  /** Starts the node's agent and resolves with its `agent_ready` line ({ node, incarnation, ... }). */
  agentReady(node: string, more: readonly string[] = []): Promise<any> {
    return this.startAgent(node, more).next((m) => m.event === 'agent_ready', `agent ${node} ready`, 30_000);
  }

  /** The `cluster` of the lab client's pool-start: node 'client' on its namespace's address. */
  clientCluster(memberTtlMs?: number): Record<string, unknown> {
    return {
      etcd: this.etcd.endpoints,
      name: this.cluster,
      node: 'client',
      listen: `${this.addr('client')}:${AGENT_PORT}`,
      ...(this.certsDir === undefined ? {} : { tls: this.tls('client') }),
      ...(memberTtlMs === undefined ? {} : { memberTtlMs }),
    };
  }

  /** kill -9 of the node's agent process; resolves when it is gone. */
  async kill9Agent(node: string): Promise<void> {
    const c = this.agentProcs.get(node);
    if (c === undefined) throw new Error(`no agent started on ${node}`);
    c.kill9();
    await c.exited;
  }

  /** Starts the caller's process (fixtures/lab-client.ts) inside the client namespace. */
  async startClient(args: readonly string[] = []): Promise<Child> {
    const c = this.cleanup.child('lab-client.js', args, this.env('client'), this.lab.wrap('client'));
    await c.next((m) => m.op === 'ready', 'the lab client ready', 30_000);
    return c;
  }

  /** Any fixture of test/fixtures run inside a member's namespace (tracked: killed by stop()). */
  startIn(member: string, script: string, args: readonly string[], env: Record<string, string> = {}): Child {
    return this.cleanup.child(script, args, env, this.lab.wrap(member));
  }

  /**
   * Any command inside a member's namespace (tracked: SIGKILLed by stop()). Resolves with the process
   * and its first stdout line (e.g. `READY <address>`), or rejects if it exits first.
   */
  async spawnIn(member: string, argv: readonly string[]): Promise<{ proc: ChildProcess; first: string }> {
    const proc = spawn('ip', ['netns', 'exec', this.lab.member(member).ns, ...argv], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    proc.stdin!.on('error', () => {});
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    this.cleanup.add(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    });
    const first = await new Promise<string>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`${argv[0]} exited with ${code} before its first line`));
      proc.once('exit', onExit);
      createInterface({ input: proc.stdout! }).once('line', (l) => {
        proc.off('exit', onExit);
        resolve(l);
      });
    });
    return { proc, first };
  }

  /** Sends a command with a fresh id to a JSON-lines child and resolves with its answer. */
  async ask(c: Child, cmd: Record<string, unknown>, timeoutMs = 30_000): Promise<any> {
    const id = `q${++seq}`;
    const p = c.after((m) => m.id === id, `${String(cmd.op)} answer`, timeoutMs);
    c.send({ ...cmd, id });
    return p;
  }

  /** Cuts (or restores) every link of the member: a partition from everyone. */
  cut(member: string, cut = true): void {
    this.lab.setLink(member, !cut);
  }

  /** Drops the member's packets to and from `peers` only (nft); `block(member, [])` heals it. */
  block(member: string, peers: readonly string[]): void {
    this.lab.block(member, peers);
  }

  /** PIDs of every process (not a zombie) whose network namespace is the member's. */
  pidsIn(member: string): number[] {
    const ino = statSync(`/run/netns/${this.lab.member(member).ns}`).ino;
    const want = `net:[${ino}]`;
    const out: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readlinkSync(`/proc/${d}/ns/net`) !== want) continue;
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
        out.push(Number(d));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  /** The Python processes running on the member's "machine" (orphans included). */
  pythonPids(member: string): number[] {
    return this.pidsIn(member).filter((pid) => {
      try {
        const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
        return /python[0-9.]*$/.test(argv0) || /python[0-9.]*$/.test(readlinkSync(`/proc/${pid}/exe`));
      } catch {
        return false;
      }
    });
  }

  /** Python processes per agent node, e.g. { a1: 4, a2: 4, a3: 0 }. */
  pythonCounts(): Record<string, number> {
    return Object.fromEntries(this.agents.map((a) => [a, this.pythonPids(a).length]));
  }

  /** Waits until the node runs no Python process (its workers were killed with their agent). */
  async noPythonOn(node: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      () => this.pythonPids(node).length === 0,
      `no Python process left on ${node}`,
      timeoutMs,
      50,
    );
  }

  /**
   * Stops everything, in order: the started processes (by PID), then any process still inside a lab
   * namespace (an orphan; returned so a test can report it), the namespaces, the certificates.
   */
  async stop(): Promise<number[]> {
    if (this.#stopped) return [];
    this.#stopped = true;
    const orphans: number[] = [];
    try {
      await this.cleanup.run();
    } finally {
      // The cleanup waits for the agents it stopped, not for their Python workers, which die of their
      // parent's death a few ms later: a worker still exiting is not an orphan. One left after 3 s is.
      await waitFor(
        () => [...this.lab.members.keys()].every((m) => this.pidsIn(m).length === 0),
        "the lab's processes to exit after their agents",
        3000,
        20,
      ).catch(() => undefined);
      for (const m of this.lab.members.keys()) {
        for (const pid of this.pidsIn(m)) {
          orphans.push(pid);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
      }
      if (orphans.length > 0)
        await waitFor(
          () => [...this.lab.members.keys()].every((m) => this.pidsIn(m).length === 0),
          'the orphans to be reaped',
          5000,
          20,
        ).catch(() => undefined);
      this.lab.destroy();
      if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    }
    return orphans;
  }
}
