/**
 * A small lab of "machines" made of Linux network namespaces (shared/cluster-notes.md): one
 * namespace per member and one holding a Linux bridge that joins them, each member on a veth pair
 * with an address of a private /24 that exists only inside these namespaces (so no packet leaves
 * the host). A partition is `ip link set <veth> down` on the bridge side (cut from everyone), or an
 * nft drop rule inside a member's namespace (cut from some peers only: `block`). Names are
 * `<prefix>-<id>-<member>` (prefix `trl-s14` unless given); `destroy()` deletes every namespace
 * (and with it every veth and nft rule).
 * Needs root: `available()` says why not, and the tests skip with that message.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function netnsAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network-namespace tests need root (CI runs as root)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return "the 'ip' command (iproute2) is missing: run scripts/install-system-deps.sh";
  }
  return undefined;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export class NetnsLab {
  readonly id: string;
  readonly subnet: string;
  readonly bridgeNs: string;
  readonly members = new Map<string, { ns: string; veth: string; addr: string }>();
  #created: string[] = [];

  readonly prefix: string;

  constructor(prefix = 'trl-s14') {
    this.prefix = prefix;
    this.id = randomBytes(2).toString('hex');
    // 10.214.<n>.0/24, a different /24 per lab: exists only inside the lab's namespaces.
    this.subnet = `10.214.${1 + ((randomBytes(1)[0] as number) % 250)}`;
    this.bridgeNs = `${prefix}-${this.id}-br`;
  }

  /** Creates the bridge namespace and one namespace per member name (addresses .1, .2, ... in order). */
  create(names: readonly string[]): this {
    try {
      ip('netns', 'add', this.bridgeNs);
      this.#created.push(this.bridgeNs);
      ip('-n', this.bridgeNs, 'link', 'set', 'lo', 'up');
      ip('-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', this.bridgeNs, 'link', 'set', 'br0', 'up');
      names.forEach((name, i) => {
        const ns = `${this.prefix}-${this.id}-${name}`;
        const veth = `v${this.id}${i}`;
        const addr = `${this.subnet}.${i + 1}`;
        ip('netns', 'add', ns);
        this.#created.push(ns);
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('link', 'add', veth, 'netns', this.bridgeNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        ip('-n', this.bridgeNs, 'link', 'set', veth, 'master', 'br0');
        ip('-n', this.bridgeNs, 'link', 'set', veth, 'up');
        ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
        this.members.set(name, { ns, veth, addr });
      });
    } catch (e) {
      this.destroy();
      throw e;
    }
    return this;
  }

  member(name: string): { ns: string; veth: string; addr: string } {
    const m = this.members.get(name);
    if (m === undefined) throw new Error(`no member ${name} in the lab`);
    return m;
  }

  /** argv prefix that runs a command inside the member's namespace. */
  wrap(name: string): string[] {
    return ['ip', 'netns', 'exec', this.member(name).ns];
  }

  /** Cuts (or heals) the member's only link: a full partition of it from everyone else. */
  setLink(name: string, up: boolean): void {
    ip('-n', this.bridgeNs, 'link', 'set', this.member(name).veth, up ? 'up' : 'down');
  }

  /**
   * Drops (or stops dropping) every packet between the member and the given peers, in both
   * directions, with an nft table inside the member's namespace: a partition from those peers only
   * (e.g. an agent cut from etcd but still reaching the caller). A member's rules are replaced as a
   * whole: `block(name, [])` heals it.
   */
  block(name: string, peers: readonly string[]): void {
    const ns = this.member(name).ns;
    const addrs = peers.map((p) => this.member(p).addr);
    // One nft script: the table is (re)created empty and filled in one transaction, so no packet
    // passes between "old rules gone" and "new rules in".
    const script = [
      'table inet trl_block',
      'delete table inet trl_block',
      ...(addrs.length === 0
        ? []
        : [
            'table inet trl_block {',
            '  chain in { type filter hook input priority 0; policy accept;',
            `    ip saddr { ${addrs.join(', ')} } drop; }`,
            '  chain out { type filter hook output priority 0; policy accept;',
            `    ip daddr { ${addrs.join(', ')} } drop; }`,
            '}',
          ]),
    ].join('\n');
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
      input: script,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  }

  /** Deletes every namespace of the lab (their veths go with them). Safe to call twice. */
  destroy(): void {
    for (const ns of this.#created.splice(0).reverse()) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  }
}
