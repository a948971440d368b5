/**
 * A structural check of an LMDB data file, done in JavaScript BEFORE the native library maps it.
 *
 * Why: LMDB trusts the file. Garbage in a meta page or a truncated file makes the native code read
 * through wild pointers or past the end of the mapping (SIGSEGV, SIGBUS), and garbage in a tree page
 * can trip an internal assertion on the next write (abort()). None of these can be caught in
 * JavaScript: they end the whole process. The registry must never crash the app, so before LMDB sees
 * the file, this walks it the way LMDB would: both meta pages, then every page reachable from the
 * roots of the main and free-list trees, checking page numbers, page kinds, the bounds of every node,
 * child page numbers, overflow pages and free-list entries. Anything LMDB could trip on is refused.
 *
 * The layout is that of the LMDB bundled with the pinned `lmdb` package: a 24-byte page header
 * (pgno u64, txnid u64, pad u16, flags u16, lower u16, upper u16 / overflow page count u32), node
 * offsets relative to the end of the header, then MDB_meta. Tests open files the library itself wrote
 * and check that they pass, so a layout change in an upgrade is caught there.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export type FileCheck =
  | { readonly ok: true; readonly fresh: boolean }
  | { readonly ok: false; readonly reason: string };

const HDR = 24; // page header size; node offsets and lower/upper are relative to it
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_OVERFLOW = 0x04;
const P_META = 0x08;
const F_BIGDATA = 0x01;
const F_SUBDATA = 0x02;
const F_DUPDATA = 0x04;
const NODE_HDR = 8; // lo u16, hi u16, flags u16, ksize u16
const MDB_MAGIC = 0xbeefc0de;
const MDB_DATA_VERSION = 2;
const P_INVALID = 0xffff_ffff_ffff_ffffn;
// Offsets inside a meta page.
const OFF_MAGIC = HDR;
const OFF_VERSION = HDR + 4;
const OFF_PSIZE = HDR + 24; // mm_dbs[0].md_pad
const OFF_FREE_ROOT = HDR + 24 + 40; // mm_dbs[0].md_root
const OFF_MAIN_ROOT = HDR + 24 + 48 + 40; // mm_dbs[1].md_root
const OFF_LAST_PG = HDR + 24 + 96;
const OFF_TXNID = OFF_LAST_PG + 8;
/** Larger files are only meta-checked: a registry this big is not a registry. */
const MAX_WALK_BYTES = 256 * 1024 * 1024;
const MAX_DEPTH = 64;

class Bad extends Error {}

/**
 * Reads of a file that another process commits to while it is read (a second instance on the same
 * registry, a lease keeper, the CLI beside a running app) can be torn: the size taken before a commit
 * grew the file and a meta page written after it, or tree pages rewritten under the read. A bad
 * verdict counts only when the read was stable: the meta pages and the size are the same after the
 * walk as in the bytes walked (every commit writes a meta page; LMDB leaves the trees of both meta
 * pages untouched until the next commit). A torn read is read again, ATTEMPTS times at most; a file
 * still being committed to after that is in use by LMDB in another process, and is passed.
 * Measured with a writer in a putSync loop: without this, about 1 check in 100 judged the live file
 * bad (`last page N is beyond the file's N pages`, `page N has a future txnid`), and a registry or
 * health file opened then was moved aside under the writer.
 */
const ATTEMPTS = 20;

/** Checks the data file at `path`; a missing or empty file is fine (LMDB initialises it). */
export function checkLmdbFile(path: string): FileCheck {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, fresh: true };
    throw err;
  }
  try {
    for (let i = 0; i < ATTEMPTS; i++) {
      const verdict = checkOnce(fd);
      if (verdict !== 'torn') return verdict;
    }
    return { ok: true, fresh: false };
  } finally {
    closeSync(fd);
  }
}

function checkOnce(fd: number): FileCheck | 'torn' {
  const size = fstatSync(fd).size;
  if (size === 0) return { ok: true, fresh: true };
  const file = readAt(fd, 0, Math.min(size, MAX_WALK_BYTES));
  try {
    new Walker(file, size).run();
    return { ok: true, fresh: false };
  } catch (err) {
    if (!(err instanceof Bad)) throw err;
    // The meta pages (page size from the first, when plausible) and the size, once more.
    const psize = file.length >= OFF_PSIZE + 4 ? file.readUInt32LE(OFF_PSIZE) : 0;
    const metas = Math.min(file.length, psize >= 512 && psize <= 65536 ? 2 * psize : 8192);
    const stable = fstatSync(fd).size === size && readAt(fd, 0, metas).equals(file.subarray(0, metas));
    return stable ? { ok: false, reason: err.message } : 'torn';
  }
}

class Walker {
  #psize = 0;
  #lastPg = 0;
  #maxTxnid = 0n;
  #visited = new Set<number>();

  constructor(
    private readonly file: Buffer,
    private readonly size: number,
  ) {}

  run(): void {
    const f = this.file;
    if (f.length < OFF_TXNID + 8)
      throw new Bad(`file is ${this.size} bytes, too short for an LMDB meta page`);
    const psize = f.readUInt32LE(OFF_PSIZE);
    if (!(psize >= 512 && psize <= 65536 && (psize & (psize - 1)) === 0)) {
      throw new Bad(`meta page 0 has no valid page size (${psize})`);
    }
    this.#psize = psize;
    if (this.size < 2 * psize) throw new Bad(`file is ${this.size} bytes, shorter than its two meta pages`);
    const roots: Array<[number, 'free' | 'main']> = [];
    for (const i of [0, 1]) {
      const base = i * psize;
      const lastPg = this.#meta(base, i);
      this.#lastPg = Math.max(this.#lastPg, lastPg);
      this.#maxTxnid = bigMax(this.#maxTxnid, f.readBigUInt64LE(base + OFF_TXNID));
      for (const [off, kind] of [
        [OFF_FREE_ROOT, 'free'],
        [OFF_MAIN_ROOT, 'main'],
      ] as const) {
        const root = f.readBigUInt64LE(base + off);
        if (root === P_INVALID) continue;
        if (root < 2n || root > BigInt(lastPg))
          throw new Bad(`meta page ${i}: ${kind} root ${root} is outside 2..${lastPg}`);
        roots.push([Number(root), kind]);
      }
    }
    if (this.size > MAX_WALK_BYTES) return;
    for (const [root, kind] of roots) this.#walk(root, kind);
  }

  /** Validates meta page `index`; returns its last page number. */
  #meta(base: number, index: number): number {
    const f = this.file;
    const where = `meta page ${index}`;
    if (f.readBigUInt64LE(base) !== BigInt(index)) throw new Bad(`${where}: wrong page number`);
    if ((f.readUInt16LE(base + 18) & P_META) === 0) throw new Bad(`${where}: not flagged as a meta page`);
    if (f.readUInt32LE(base + OFF_MAGIC) !== MDB_MAGIC)
      throw new Bad(`${where}: no LMDB magic number (not an LMDB file)`);
    const version = f.readUInt32LE(base + OFF_VERSION) & 0xffff;
    if (version !== MDB_DATA_VERSION)
      throw new Bad(`${where}: LMDB data format ${version}, expected ${MDB_DATA_VERSION}`);
    if (f.readUInt32LE(base + OFF_PSIZE) !== this.#psize)
      throw new Bad(`${where}: page size differs between meta pages`);
    const lastPg = f.readBigUInt64LE(base + OFF_LAST_PG);
    const pages = BigInt(Math.floor(this.size / this.#psize));
    // Reading a page past the end of the file is SIGBUS: every page the tree can name must exist.
    if (lastPg < 1n || lastPg >= pages)
      throw new Bad(`${where}: last page ${lastPg} is beyond the file's ${pages} pages`);
    return Number(lastPg);
  }

  #walk(root: number, kind: 'free' | 'main'): void {
    const stack: Array<[number, number]> = [[root, 0]];
    // Bounded: each page is visited once, and there are at most lastPg + 1 pages.
    while (stack.length > 0) {
      const [pgno, depth] = stack.pop()!;
      if (this.#visited.has(pgno)) continue;
      this.#visited.add(pgno);
      if (depth > MAX_DEPTH) throw new Bad(`${kind} tree deeper than ${MAX_DEPTH} at page ${pgno}`);
      const base = this.#page(pgno, kind);
      const flags = this.file.readUInt16LE(base + 18);
      const kindBits = flags & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META);
      if (kindBits !== P_BRANCH && kindBits !== P_LEAF) {
        throw new Bad(`${kind} tree page ${pgno} is not a branch or leaf page (flags ${flags})`);
      }
      const n = this.#nodeCount(base, pgno);
      if (kindBits === P_BRANCH && n === 0) throw new Bad(`${kind} branch page ${pgno} is empty`);
      for (let i = 0; i < n; i++) {
        const node = this.#node(base, pgno, i);
        const f = this.file;
        const lo = f.readUInt16LE(node);
        const hi = f.readUInt16LE(node + 2);
        const nflags = f.readUInt16LE(node + 4);
        const ksize = f.readUInt16LE(node + 6);
        const data = node + NODE_HDR + ksize;
        if (data > base + this.#psize)
          throw new Bad(`${kind} page ${pgno} node ${i}: key runs past the page`);
        if (kindBits === P_BRANCH) {
          const child = lo + hi * 0x10000 + nflags * 0x1_0000_0000;
          if (child < 2 || child > this.#lastPg)
            throw new Bad(`${kind} page ${pgno} points to page ${child}`);
          stack.push([child, depth + 1]);
          continue;
        }
        if (nflags & (F_SUBDATA | F_DUPDATA))
          throw new Bad(`${kind} page ${pgno} node ${i}: unexpected sub-database`);
        const dsize = lo + hi * 0x10000;
        let value: Buffer;
        if (nflags & F_BIGDATA) {
          if (data + 8 > base + this.#psize)
            throw new Bad(`${kind} page ${pgno} node ${i}: overflow pointer runs past the page`);
          value = this.#overflow(Number(f.readBigUInt64LE(data)), dsize, kind);
        } else {
          if (data + dsize > base + this.#psize)
            throw new Bad(`${kind} page ${pgno} node ${i}: value runs past the page`);
          value = f.subarray(data, data + dsize);
        }
        if (kind === 'free') this.#freeList(value, pgno);
      }
    }
  }

  /** Byte offset of a page, after checking it exists and says it is that page and is not from the future. */
  #page(pgno: number, kind: string): number {
    if (pgno < 2 || pgno > this.#lastPg)
      throw new Bad(`${kind} tree names page ${pgno}, outside 2..${this.#lastPg}`);
    const base = pgno * this.#psize;
    if (base + this.#psize > this.file.length)
      throw new Bad(`${kind} page ${pgno} is past the end of the file`);
    if (this.file.readBigUInt64LE(base) !== BigInt(pgno))
      throw new Bad(`${kind} page ${pgno} has a wrong page number`);
    // A page stamped with a later transaction than any committed one would be taken as writable in place.
    if (this.file.readBigUInt64LE(base + 8) > this.#maxTxnid)
      throw new Bad(`${kind} page ${pgno} has a future txnid`);
    return base;
  }

  #nodeCount(base: number, pgno: number): number {
    const lower = this.file.readUInt16LE(base + 20);
    const upper = this.file.readUInt16LE(base + 22);
    if (lower % 2 !== 0 || lower > upper || HDR + upper > this.#psize) {
      throw new Bad(`page ${pgno} has impossible free-space bounds (lower ${lower}, upper ${upper})`);
    }
    return lower / 2;
  }

  #node(base: number, pgno: number, i: number): number {
    const upper = this.file.readUInt16LE(base + 22);
    const ptr = this.file.readUInt16LE(base + HDR + 2 * i);
    const node = base + HDR + ptr;
    if (ptr < upper || node + NODE_HDR > base + this.#psize)
      throw new Bad(`page ${pgno} node ${i} is outside the page`);
    return node;
  }

  #overflow(pgno: number, dsize: number, kind: string): Buffer {
    // Both meta pages' trees may name the same overflow pages; checking it again is harmless.
    const base = this.#page(pgno, kind);
    if ((this.file.readUInt16LE(base + 18) & P_OVERFLOW) === 0)
      throw new Bad(`${kind} page ${pgno} is not an overflow page`);
    const count = this.file.readUInt32LE(base + 20);
    const needed = Math.floor((HDR - 1 + dsize) / this.#psize) + 1;
    if (count < needed || pgno + count - 1 > this.#lastPg)
      throw new Bad(`${kind} overflow page ${pgno} has a bad length`);
    if (base + HDR + dsize > this.file.length)
      throw new Bad(`${kind} overflow page ${pgno} runs past the file`);
    return this.file.subarray(base + HDR, base + HDR + dsize);
  }

  /**
   * A free-list entry is an ID list of pages LMDB will reuse and overwrite. In this LMDB build it is
   * a used-length word, then slots that are 0 (a hole), a page number, or a negative block length
   * (a run of consecutive pages) before a page number.
   */
  #freeList(value: Buffer, pgno: number): void {
    if (value.length < 8 || value.length % 8 !== 0)
      throw new Bad(`free-list page ${pgno} holds a malformed entry`);
    const used = value.readBigUInt64LE(0);
    if (used > BigInt(value.length / 8 - 1))
      throw new Bad(`free-list page ${pgno} holds an entry with a wrong length`);
    const last = BigInt(this.#lastPg);
    for (let off = 8; off < value.length; off += 8) {
      const v = value.readBigInt64LE(off);
      const ok = v === 0n || (v > 0n ? v >= 2n && v <= last : -v <= last + 1n);
      if (!ok) throw new Bad(`free-list page ${pgno} holds an impossible page or block ${v}`);
    }
  }
}

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  // Bounded: each successful read advances; a short read (end of file) stops the loop.
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}
