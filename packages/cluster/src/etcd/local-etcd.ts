/**
 * A throw-away etcd on this host, for tests, benches and `pnpm example:cluster`: Debian's `etcd`
 * binary (scripts/install-system-deps.sh) on free 127.0.0.1 ports with a temporary data dir,
 * stopped by PID and its dir removed. One member or three (distinct client and peer ports), with
 * fast elections (heartbeat 50 ms, election timeout 500 ms), which also lowers etcd's minimum lease
 * TTL to 1 s (etcd raises shorter TTLs to 1.5 x the election timeout).
 *
 * Not for production: docs/cluster.md says how to run a real 3-member etcd.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';

export interface LocalEtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  proc: ChildProcess | undefined;
}

export interface LocalEtcdOptions {
  /** 1 (default) or 3 members. */
  readonly members?: number;
  /** Address to bind (default 127.0.0.1; a namespace test passes the etcd namespace's address). */
  readonly host?: string;
  /** Prefix of the member names; it appears on the command line (tests use it to find leftovers). */
  readonly name?: string;
  /** Run each member through this argv prefix (e.g. ['ip', 'netns', 'exec', 'ns']). */
  readonly wrap?: readonly string[];
  /** Fixed client port of the first member (others follow), instead of free ports. */
  readonly port?: number;
  /**
   * Serve clients over mTLS: etcd presents `cert` (its SANs must hold the DNS name `localhost`,
   * which the client URLs name) and accepts only clients with a certificate of `ca`. PEM file paths
   * (`trellis certs issue etcd --dns localhost` makes them). Not with `wrap` or another `host`.
   */
  readonly tls?: LocalEtcdTls;
}

/** PEM files of a LocalEtcd serving mTLS (see LocalEtcdOptions.tls). */
export interface LocalEtcdTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A free TCP port on 127.0.0.1 (closed again at once; etcd binds it a moment later). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

export class LocalEtcd {
  readonly members: LocalEtcdMember[];
  readonly #root: string;
  readonly #wrap: readonly string[];
  readonly #token: string;
  readonly #tls: LocalEtcdTls | undefined;

  private constructor(
    members: LocalEtcdMember[],
    root: string,
    wrap: readonly string[],
    token: string,
    tls: LocalEtcdTls | undefined,
  ) {
    this.members = members;
    this.#root = root;
    this.#wrap = wrap;
    this.#token = token;
    this.#tls = tls;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  static async start(o: LocalEtcdOptions = {}): Promise<LocalEtcd> {
    // freePort's port is free when it is read, not necessarily a moment later when etcd binds it:
    // another process binding port 0 (a test's gRPC server) can take it in between, and etcd then
    // exits at once. With ports of our own choosing, try fresh ones (bounded: 3 attempts).
    for (let attempt = 1; ; attempt++) {
      try {
        return await LocalEtcd.#startOnce(o);
      } catch (err) {
        if (o.port !== undefined || attempt >= 3 || !/exited with/.test((err as Error).message)) throw err;
      }
    }
  }

  static async #startOnce(o: LocalEtcdOptions): Promise<LocalEtcd> {
    const n = o.members ?? 1;
    const host = o.host ?? '127.0.0.1';
    if (o.tls !== undefined && (o.wrap !== undefined || host !== '127.0.0.1'))
      throw new Error('LocalEtcd: tls serves https://localhost only; leave wrap and host unset');
    const root = mkdtempSync(join(tmpdir(), 'trellis-etcd-'));
    const base = o.name ?? 'trellis-etcd';
    const members: LocalEtcdMember[] = [];
    for (let i = 0; i < n; i++) {
      const cp = o.port !== undefined ? o.port + 2 * i : await freePort(o.wrap ? '127.0.0.1' : host);
      const pp = o.port !== undefined ? o.port + 2 * i + 1 : await freePort(o.wrap ? '127.0.0.1' : host);
      members.push({
        name: `${base}-${i}`,
        // The certificate holds DNS names only (no IP SANs: cluster-notes.md), so clients dial localhost.
        clientUrl: o.tls === undefined ? `http://${host}:${cp}` : `https://localhost:${cp}`,
        peerUrl: `http://${host}:${pp}`,
        dataDir: join(root, `m${i}`),
        proc: undefined,
      });
    }
    const e = new LocalEtcd(members, root, o.wrap ?? [], `${base}-${process.pid}-${Date.now()}`, o.tls);
    try {
      for (const m of members) e.startMember(m);
      await e.waitHealthy();
    } catch (err) {
      await e.stop();
      throw err;
    }
    return e;
  }

  /** (Re)starts one member with its data dir (a restarted member rejoins with its data). */
  startMember(m: LocalEtcdMember): void {
    const cluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      this.#tls === undefined ? m.clientUrl : m.clientUrl.replace('//localhost:', '//127.0.0.1:'),
      '--advertise-client-urls',
      m.clientUrl,
      '--listen-peer-urls',
      m.peerUrl,
      '--initial-advertise-peer-urls',
      m.peerUrl,
      '--initial-cluster',
      cluster,
      '--initial-cluster-token',
      this.#token,
      '--initial-cluster-state',
      'new',
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      '--log-level',
      'error',
      ...(this.#tls === undefined
        ? []
        : [
            '--cert-file',
            this.#tls.cert,
            '--key-file',
            this.#tls.key,
            '--trusted-ca-file',
            this.#tls.ca,
            '--client-cert-auth',
          ]),
    ];
    const argv = [...this.#wrap, 'etcd', ...args];
    m.proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    m.proc.stderr?.resume();
    m.proc.on('error', () => {});
  }

  /** Resolves when every running member answers a read (bounded: 15 s). */
  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (const m of this.members) {
      if (m.proc === undefined) continue;
      for (;;) {
        if (m.proc.exitCode !== null)
          throw new Error(`etcd member ${m.name} exited with ${m.proc.exitCode}; is the port in use?`);
        const err = await this.#probe(m.clientUrl);
        if (err === undefined) break;
        if (Date.now() > until)
          throw new Error(`etcd at ${m.clientUrl} not healthy after ${timeoutMs} ms: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /**
   * One health probe. A wrapped etcd (in a network namespace) is probed from inside it with
   * etcdctl: its address exists only there, and dialing it from here would send the packets to the
   * default route instead.
   */
  async #probe(url: string): Promise<string | undefined> {
    if (this.#wrap.length > 0) {
      const argv = [
        ...this.#wrap,
        'etcdctl',
        '--endpoints',
        url,
        '--command-timeout=500ms',
        'endpoint',
        'health',
      ];
      return new Promise((resolve) => {
        execFile(
          argv[0] as string,
          argv.slice(1),
          { env: { ...process.env, ETCDCTL_API: '3' } },
          (e, _o, stderr) => resolve(e === null ? undefined : String(stderr || e)),
        );
      });
    }
    const c = this.#client(url);
    try {
      await c.kv.range({ key: Buffer.from('/') }, { deadline: Date.now() + 500 });
      return undefined;
    } catch (err) {
      return String(err);
    } finally {
      c.close();
    }
  }

  /** A client of one member; under tls it presents etcd's own certificate (issued for client auth too). */
  #client(url: string): Etcd3 {
    const t = this.#tls;
    const credentials =
      t === undefined
        ? undefined
        : {
            rootCertificate: readFileSync(t.ca),
            certChain: readFileSync(t.cert),
            privateKey: readFileSync(t.key),
          };
    return new Etcd3({ hosts: url, dialTimeout: 500, credentials });
  }

  /** The current etcd leader's member (by asking each running member's status; not for wrapped members). */
  async leader(): Promise<LocalEtcdMember | undefined> {
    for (const m of this.members) {
      if (m.proc === undefined) continue;
      const c = this.#client(m.clientUrl);
      try {
        const st = await c.maintenance.status({ deadline: Date.now() + 1000 });
        const id = String(st.leader);
        if (String(st.header.member_id) === id) return m;
      } catch {
        // not answering: not the leader we can use
      } finally {
        c.close();
      }
    }
    return undefined;
  }

  /** Kills one member with a signal (default SIGKILL) and waits for its exit. */
  async kill(m: LocalEtcdMember, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = m.proc;
    m.proc = undefined;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await gone;
  }

  /** Stops every member (by PID) and removes the data dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)));
    rmSync(this.#root, { recursive: true, force: true });
  }
}
