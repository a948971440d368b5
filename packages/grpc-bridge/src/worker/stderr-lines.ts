/**
 * Splits a worker's stderr into lines for `onStderr`, at a cost linear in the bytes read and with
 * memory bounded by `maxLineBytes`, whatever the child writes.
 *
 * Why not `(partial + chunk).split('\n')`: a tool that writes one long line without a newline (a
 * tqdm-style `\r` progress bar, a dumped blob) makes that re-join and re-split the whole partial
 * line on every 64 KiB chunk: quadratic. At 50 MiB it stalled the host's event loop for seconds and
 * got a healthy worker killed for missed heartbeats. Here each chunk is scanned once for newlines,
 * pieces of the pending line are kept as Buffers (joined once, when the line ends), and a line
 * longer than `maxLineBytes` is cut: its first `maxLineBytes` bytes are delivered with a note saying
 * how much was dropped, the rest is counted and discarded until its newline.
 */

export interface StderrLinesOptions {
  /** Longest line delivered whole; longer ones are cut to this many bytes (plus a note). */
  readonly maxLineBytes: number;
  readonly onLine: (line: string) => void;
}

const NL = 0x0a;

export class StderrLines {
  readonly #max: number;
  readonly #onLine: (line: string) => void;
  /** Pieces of the pending line (at most #max bytes in all). */
  #pieces: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes of the pending line dropped past #max (> 0: the line is being cut). */
  #dropped = 0;

  constructor(o: StderrLinesOptions) {
    this.#max = Math.max(1, o.maxLineBytes);
    this.#onLine = o.onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl === -1 ? chunk.length : nl;
      this.#keep(chunk, start, end);
      if (nl === -1) return;
      this.#emit();
      start = nl + 1;
    }
  }

  /** Delivers what is pending as a last line (the stream ended without a final newline). */
  end(): void {
    if (this.#pendingBytes > 0 || this.#dropped > 0) this.#emit();
  }

  #keep(chunk: Buffer, start: number, end: number): void {
    const room = this.#max - this.#pendingBytes;
    const take = Math.min(room, end - start);
    if (take > 0) {
      // subarray shares memory with the chunk: no copy until the line is complete.
      this.#pieces.push(chunk.subarray(start, start + take));
      this.#pendingBytes += take;
    }
    this.#dropped += end - start - Math.max(0, take);
  }

  #emit(): void {
    const pieces = this.#pieces;
    const buf = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.#pendingBytes);
    let line = buf.toString('utf8');
    if (this.#dropped > 0)
      line += ` … [line cut by Trellis: ${this.#dropped} more bytes dropped (longer than ${this.#max} bytes)]`;
    this.#pieces = [];
    this.#pendingBytes = 0;
    this.#dropped = 0;
    this.#onLine(line);
  }
}

/**
 * The last `bytes` bytes of a stream, kept as Buffers and decoded only when asked for: the stderr
 * tail quoted in error messages. Linear in the bytes pushed.
 */
export class ByteTail {
  readonly #bytes: number;
  #pieces: Buffer[] = [];
  #len = 0;

  constructor(bytes: number) {
    this.#bytes = bytes;
  }

  push(chunk: Buffer): void {
    if (this.#bytes <= 0) return;
    if (chunk.length >= this.#bytes) {
      // Copied: a subarray would pin the whole (possibly 64 KiB) chunk.
      this.#pieces = [Buffer.from(chunk.subarray(chunk.length - this.#bytes))];
      this.#len = this.#bytes;
      return;
    }
    this.#pieces.push(chunk);
    this.#len += chunk.length;
    // Drop whole pieces from the front while the rest still covers the tail.
    while (this.#pieces.length > 1 && this.#len - this.#pieces[0]!.length >= this.#bytes) {
      this.#len -= this.#pieces.shift()!.length;
    }
    if (this.#pieces.length > 64) {
      this.#pieces = [Buffer.concat(this.#pieces, this.#len)];
    }
  }

  toString(): string {
    if (this.#len === 0) return '';
    const all = this.#pieces.length === 1 ? this.#pieces[0]! : Buffer.concat(this.#pieces, this.#len);
    const s = all.length > this.#bytes ? all.subarray(all.length - this.#bytes) : all;
    // A cut in the middle of a UTF-8 sequence decodes to U+FFFD, as the old string slice did not;
    // drop leading continuation bytes so the tail starts at a character.
    let i = 0;
    while (i < s.length && i < 4 && (s[i]! & 0xc0) === 0x80) i++;
    return s.subarray(i).toString('utf8');
  }
}

/**
 * What the host does with a worker's stderr: keep its tail for error messages and, with an
 * `onStderr` listener, hand it over line by line. One object per worker process.
 */
export class StderrReader {
  readonly #tail: ByteTail;
  readonly #lines: StderrLines | undefined;

  constructor(tailBytes: number, maxLineBytes: number, onLine: ((line: string) => void) | undefined) {
    this.#tail = new ByteTail(tailBytes);
    this.#lines = onLine === undefined ? undefined : new StderrLines({ maxLineBytes, onLine });
  }

  push(chunk: Buffer): void {
    this.#tail.push(chunk);
    this.#lines?.push(chunk);
  }

  /** The stream ended: a last line without a newline is still delivered. */
  end(): void {
    this.#lines?.end();
  }

  tail(): string {
    return this.#tail.toString();
  }
}
