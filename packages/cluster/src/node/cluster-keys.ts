/**
 * Following the cluster's keys: members and names are read once (`resync`) and then followed with
 * one prefix watch from the next revision, so the local views (membership, global names) change in
 * the order etcd wrote them, the same on every node. Our own member key's DELETE means etcd declared
 * this incarnation down: the node joins again. A key that is not ours to parse (written by hand,
 * another version) is logged and skipped, never fatal.
 */
import { getLogger } from '@trellis/core';
import type { IKeyValue, Watcher } from 'etcd3';
import { type EtcdConnection, num } from '../etcd/etcd-connection.js';
import type { GlobalNames, NameRecord } from './global-names.js';
import type { MemberLease } from './member-lease.js';
import type { Member, Membership } from './membership.js';
import { parseRecord } from './node-options.js';

export interface ClusterKeysHost {
  readonly node: string;
  readonly prefix: string;
  readonly etcd: EtcdConnection;
  readonly membership: Membership;
  readonly names: GlobalNames;
  readonly lease: MemberLease;
}

const isMember = (x: Record<string, unknown>) => typeof x.node === 'string' && typeof x.address === 'string';
const isName = (x: Record<string, unknown>) => typeof x.node === 'string' && typeof x.pid === 'string';

export class ClusterKeys {
  readonly #h: ClusterKeysHost;
  readonly #log = getLogger();
  #watcher: Watcher | undefined;

  constructor(host: ClusterKeysHost) {
    this.#h = host;
  }

  /** Reads members and names, then follows them with a prefix watch from the next revision. */
  async follow(): Promise<void> {
    const rev = await this.resync();
    const w = await this.#h.etcd.watchPrefix(this.#h.prefix, rev + 1);
    w.on('put', (kv) => this.#applySafe(kv, false));
    w.on('delete', (kv, prev) => this.#applySafe(kv, true, prev));
    w.on('error', (e) => this.#log.warn({ err: String(e) }, 'cluster watch error'));
    this.#watcher = w;
  }

  /** Reads members and names anew; returns the revision the views are at. */
  async resync(): Promise<number> {
    const { etcd, prefix } = this.#h;
    const [m, n] = await Promise.all([
      etcd.rangePrefix(`${prefix}members/`),
      etcd.rangePrefix(`${prefix}names/`),
    ]);
    const members: Member[] = [];
    for (const kv of m.kvs) {
      const v = parseRecord<Omit<Member, 'incarnation'>>(kv, isMember);
      if (v !== undefined) members.push({ ...v, incarnation: num(kv.create_revision) });
      else
        this.#log.warn({ key: kv.key.toString('utf8') }, 'cluster key skipped: not a Trellis member record');
    }
    this.#h.membership.reset(members);
    const names: [string, NameRecord][] = [];
    for (const kv of n.kvs) {
      const v = parseRecord<NameRecord>(kv, isName);
      if (v !== undefined) names.push([kv.key.toString('utf8').slice(`${prefix}names/`.length), v]);
    }
    this.#h.names.reset(names);
    return Math.min(m.revision, n.revision);
  }

  #apply(kv: IKeyValue, deleted: boolean, prev?: IKeyValue): void {
    const { membership, names, lease } = this.#h;
    const rest = kv.key.toString('utf8').slice(this.#h.prefix.length);
    const slash = rest.indexOf('/');
    const kind = rest.slice(0, slash);
    const id = rest.slice(slash + 1);
    if (kind === 'members') {
      if (deleted) {
        const inc = num(prev?.create_revision);
        if (id === this.#h.node && inc === lease.incarnation && lease.state !== 'stopped') {
          void lease.rejoin();
          return;
        }
        membership.delete(id, inc || (membership.get(id)?.incarnation ?? 0));
      } else {
        const v = parseRecord<Omit<Member, 'incarnation'>>(kv, isMember);
        if (v === undefined) throw new Error('not a member record');
        membership.put({ ...v, incarnation: num(kv.create_revision) });
      }
    } else if (kind === 'names') {
      if (deleted) names.delete(id);
      else {
        const v = parseRecord<NameRecord>(kv, isName);
        if (v === undefined) throw new Error('not a name record');
        names.put(id, v);
      }
    }
  }

  #applySafe(kv: IKeyValue, deleted: boolean, prev?: IKeyValue): void {
    try {
      this.#apply(kv, deleted, prev);
    } catch (e) {
      this.#log.warn(
        { key: kv.key.toString('utf8'), err: String(e) },
        'cluster key skipped: not a Trellis record',
      );
    }
  }

  async close(): Promise<void> {
    await this.#watcher?.cancel().catch(() => {});
  }
}
