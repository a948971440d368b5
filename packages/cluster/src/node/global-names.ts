/**
 * Global names (OTP's `global`): `/<cluster>/names/<name>` = { node, incarnation, pid }, on the member
 * lease of the holder's node. A name is written in one txn that checks the owner's member key is
 * still this incarnation and the name is free, so a node that was declared down cannot register (or
 * keep) a name under its old incarnation, and a clash names the holder (ERR_NAME_TAKEN).
 *
 * Two maps: the cluster's names as the watch last showed them (read by whereis and the routing of
 * calls: no etcd round trip per call), and the names held by processes of this node (monitored, so a
 * name goes with its process, and registered again after a rejoin as a new incarnation).
 */
import { getLogger, isPid, NameTakenError, type Node, NoProcError, type Pid, type Ref } from '@trellis/core';
import { NodeDownError } from '../errors.js';
import { type EtcdConnection, enc, Result, Target as T } from '../etcd/etcd-connection.js';
import type { MemberLease } from './member-lease.js';
import { checkName } from './node-options.js';
import type { GlobalPid } from './remote-monitors.js';

export interface NameRecord {
  readonly node: string;
  readonly incarnation: number;
  readonly pid: Pid;
}

export interface GlobalNamesHost {
  readonly node: string;
  readonly prefix: string;
  readonly etcd: EtcdConnection;
  readonly local: Node;
  readonly lease: MemberLease;
  /** The names held here changed: the status record lists them. */
  changed(): void;
}

const toGlobalPid = (r: NameRecord): GlobalPid => ({ node: r.node, incarnation: r.incarnation, pid: r.pid });

export class GlobalNames {
  readonly #h: GlobalNamesHost;
  readonly #log = getLogger();
  /** Every name of the cluster, as the watch last showed them. */
  readonly #names = new Map<string, NameRecord>();
  /** Names held by processes of this node: re-registered after a rejoin. */
  readonly #local = new Map<string, { pid: Pid; ref: Ref }>();

  constructor(host: GlobalNamesHost) {
    this.#h = host;
  }

  #key(name: string): Buffer {
    return enc(`${this.#h.prefix}names/${name}`);
  }

  async register(name: string, pid: Pid): Promise<void> {
    const { local } = this.#h;
    checkName(name, 'global name');
    if (!isPid(pid) || (local.isLocal(pid) && !local.procs.has(pid)))
      throw new NoProcError(`registerGlobal("${name}", ${String(pid)})`);
    const held = this.#local.get(name);
    if (held !== undefined && held.pid === pid) return;
    await this.#write(name, pid);
    const ref = local.monitor(() => {
      if (this.#local.get(name)?.ref !== ref) return;
      this.#local.delete(name);
      void this.#delete(name, pid).catch(() => {});
    }, pid);
    this.#local.set(name, { pid, ref });
    this.#h.changed();
  }

  async unregister(name: string): Promise<void> {
    const held = this.#local.get(name);
    if (held === undefined) return;
    this.#local.delete(name);
    this.#h.local.demonitor(held.ref);
    await this.#delete(name, held.pid);
    if (this.#names.get(name)?.pid === held.pid) this.#names.delete(name);
    this.#h.changed();
  }

  async #write(name: string, pid: Pid): Promise<void> {
    const { lease } = this.#h;
    const key = this.#key(name);
    const rec: NameRecord = { node: this.#h.node, incarnation: lease.incarnation, pid };
    const t = await this.#h.etcd.txn(
      [lease.isCurrent(), { key, target: T.create, result: Result.equal, create_revision: 0 }],
      [{ request_put: { key, value: enc(JSON.stringify(rec)), lease: lease.leaseId } }],
      [{ request_range: { key } }, { request_range: { key: enc(lease.memberKey()) } }],
    );
    if (t.succeeded) {
      this.#names.set(name, rec);
      return;
    }
    const kv = t.responses[0]?.response_range?.kvs[0];
    if (kv !== undefined) {
      const h = JSON.parse(kv.value.toString('utf8')) as NameRecord;
      if (h.node === this.#h.node && h.incarnation === lease.incarnation && h.pid === pid) return;
      throw new NameTakenError(name, `${h.pid}@${h.node}` as Pid);
    }
    throw new NodeDownError(this.#h.node, `registerGlobal("${name}")`);
  }

  async #delete(name: string, pid: Pid): Promise<void> {
    const key = this.#key(name);
    const rec: NameRecord = { node: this.#h.node, incarnation: this.#h.lease.incarnation, pid };
    await this.#h.etcd.txn(
      [{ key, target: T.value, result: Result.equal, value: enc(JSON.stringify(rec)) }],
      [{ request_delete_range: { key } }],
      [],
    );
  }

  /** After a rejoin as a new incarnation: the names our live processes hold, written again. */
  async reRegister(): Promise<void> {
    for (const [name, { pid }] of [...this.#local]) {
      await this.#write(name, pid).catch((e) => {
        this.#log.warn({ name, pid, err: String(e) }, 'global name not re-registered after rejoin');
        const h = this.#local.get(name);
        if (h !== undefined) this.#h.local.demonitor(h.ref);
        this.#local.delete(name);
      });
    }
  }

  /** The holder of `name` (from the watched view), or undefined. */
  holder(name: string): NameRecord | undefined {
    return this.#names.get(name);
  }

  whereis(name: string): GlobalPid | undefined {
    const r = this.#names.get(name);
    return r === undefined ? undefined : toGlobalPid(r);
  }

  all(): Map<string, GlobalPid> {
    return new Map([...this.#names].map(([k, r]) => [k, toGlobalPid(r)]));
  }

  /** The local process holding `name` here, if any (the node service resolves names with it). */
  localPid(name: string): Pid | undefined {
    return this.#local.get(name)?.pid;
  }

  /** The names held by processes of this node. */
  localNames(): string[] {
    return [...this.#local.keys()];
  }

  // ---- the watched view (cluster-keys.ts feeds it) ----------------------------------------------

  put(name: string, r: NameRecord): void {
    this.#names.set(name, r);
  }

  delete(name: string): void {
    this.#names.delete(name);
  }

  reset(records: Iterable<[string, NameRecord]>): void {
    this.#names.clear();
    for (const [k, r] of records) this.#names.set(k, r);
  }

  /** A node went down: its names go with it. */
  nodeDown(node: string, incarnation: number): void {
    for (const [name, r] of this.#names)
      if (r.node === node && r.incarnation === incarnation) this.#names.delete(name);
  }

  /** The node stops: no more monitors on the holders. */
  close(): void {
    for (const { ref } of this.#local.values()) this.#h.local.demonitor(ref);
    this.#local.clear();
  }
}
