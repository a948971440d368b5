/**
 * The worker's readiness line: the first and only line it writes on stdout, as soon as it is bound:
 *
 *   TRELLIS_READY {"address": "unix:/tmp/x.sock", "pid": 123, "protocol": "trellis.bridge.v1", "tools": 5}
 *
 * Anything else on stdout before it (a wrapper script's echo, a sitecustomize print) is garbage: the
 * worker is refused rather than guessed at, because a stdout that carries other output cannot be
 * trusted to carry the readiness line either.
 */
import { PROTOCOL } from '../protos.js';

export const READY_PREFIX = 'TRELLIS_READY ';

export interface ReadyLine {
  readonly address: string;
  readonly pid: number;
  readonly protocol: string;
  readonly tools: number;
}

export type ReadyParse =
  | { readonly ok: true; readonly ready: ReadyLine }
  | { readonly ok: false; readonly problem: string };

/** Parses one line (without its newline). */
export function parseReadyLine(line: string): ReadyParse {
  if (!line.startsWith(READY_PREFIX)) {
    return {
      ok: false,
      problem: `garbage on stdout before the readiness line: ${JSON.stringify(clip(line, 200))}`,
    };
  }
  let v: unknown;
  try {
    v = JSON.parse(line.slice(READY_PREFIX.length));
  } catch {
    return {
      ok: false,
      problem: `the readiness line is not followed by JSON: ${JSON.stringify(clip(line, 200))}`,
    };
  }
  const r = v as Partial<ReadyLine> | null;
  if (!r || typeof r.address !== 'string' || typeof r.pid !== 'number') {
    return {
      ok: false,
      problem: `the readiness line lacks "address" or "pid": ${JSON.stringify(clip(line, 200))}`,
    };
  }
  if (r.protocol !== PROTOCOL) {
    return {
      ok: false,
      problem: `the worker speaks protocol ${JSON.stringify(r.protocol)}, this host speaks "${PROTOCOL}"; install the trellis_worker that matches this @trellis/grpc-bridge (pnpm install)`,
    };
  }
  return {
    ok: true,
    ready: { address: r.address, pid: r.pid, protocol: r.protocol, tools: Number(r.tools ?? 0) },
  };
}

/** Collects stdout bytes until the first newline; reports garbage as soon as it is certain. */
export class ReadyLineReader {
  #buf = '';
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Feeds a chunk; returns the parse of the first complete line, or undefined while incomplete. */
  push(chunk: Buffer | string): ReadyParse | undefined {
    this.#buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const nl = this.#buf.indexOf('\n');
    if (nl >= 0) return parseReadyLine(this.#buf.slice(0, nl).replace(/\r$/, ''));
    // A prefix that cannot become the readiness line is garbage already: say so without waiting.
    const head = this.#buf.slice(0, READY_PREFIX.length);
    if (!READY_PREFIX.startsWith(head)) return parseReadyLine(this.#buf);
    if (this.#buf.length > this.#maxBytes) {
      return {
        ok: false,
        problem: `more than ${this.#maxBytes} bytes on stdout without a newline before readiness`,
      };
    }
    return undefined;
  }

  /** What was received so far (for the message when the process exits first). */
  get pending(): string {
    return this.#buf;
  }
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}...`;
}
