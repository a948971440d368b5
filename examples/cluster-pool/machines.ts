/**
 * "Machines" for `pnpm example:cluster-pool`: when it runs as root, each member (etcd, the client,
 * each agent) gets its own Linux network namespace on one bridge, with an address of a private
 * /24 that exists only inside these namespaces (no packet leaves the host), so every agent really
 * is reached over a network link. Without root every member runs on 127.0.0.1 with its own port.
 *
 * Why by hand with `ip` and not a library: iproute2 is the interface to namespaces; the example's
 * few commands do not warrant a dependency.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export interface Machine {
  readonly name: string;
  /** The address its servers listen on. */
  readonly host: string;
  /** argv prefix that runs a command on it (`ip netns exec <ns>`, or nothing). */
  readonly wrap: readonly string[];
}

/** Network namespaces when possible (root and iproute2), else undefined (then: loopback). */
function canUseNamespaces(): boolean {
  if (process.getuid?.() !== 0 || process.env.EXAMPLE_NO_NETNS === '1') return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class Machines {
  readonly namespaces: boolean;
  readonly #id = randomBytes(2).toString('hex');
  readonly #subnet = `10.215.${1 + ((randomBytes(1)[0] as number) % 250)}`;
  readonly #created: string[] = [];
  readonly #all = new Map<string, Machine>();

  constructor() {
    this.namespaces = canUseNamespaces();
  }

  /** Creates one machine per name (namespaces on a bridge, or loopback). */
  create(names: readonly string[]): this {
    if (!this.namespaces) {
      for (const name of names) this.#all.set(name, { name, host: '127.0.0.1', wrap: [] });
      return this;
    }
    const br = `trl-example-${this.#id}-br`;
    try {
      ip('netns', 'add', br);
      this.#created.push(br);
      ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', br, 'link', 'set', 'br0', 'up');
      names.forEach((name, i) => {
        const ns = `trl-example-${this.#id}-${name}`;
        const veth = `ve${this.#id}${i}`;
        const host = `${this.#subnet}.${i + 1}`;
        ip('netns', 'add', ns);
        this.#created.push(ns);
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('link', 'add', veth, 'netns', br, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        ip('-n', br, 'link', 'set', veth, 'master', 'br0');
        ip('-n', br, 'link', 'set', veth, 'up');
        ip('-n', ns, 'addr', 'add', `${host}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
        this.#all.set(name, { name, host, wrap: ['ip', 'netns', 'exec', ns] });
      });
    } catch (e) {
      this.destroy();
      throw e;
    }
    return this;
  }

  get(name: string): Machine {
    const m = this.#all.get(name);
    if (m === undefined) throw new Error(`no machine ${name}`);
    return m;
  }

  /** Deletes every namespace it created (their veths go with them). */
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
