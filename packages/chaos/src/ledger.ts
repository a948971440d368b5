/**
 * The call ledger: every call the load (or a fault) makes goes through `run`, which records exactly
 * one outcome for it:
 *
 *   ok       it resolved (and its result passed the caller's check, when there is one)
 *   error    it rejected with a TrellisError carrying a stable ERR_ code: a clean failure
 *   unclean  it rejected with anything else (a plain Error, a string, a TrellisError without code)
 *   wrong    it resolved with a result that fails the caller's check
 *   hang     it had not settled `slackMs` after its own time-out: the framework's time-out failed
 *
 * Two independent guards catch a call that never ends: each call races a harness timer (its own
 * time-out plus slack), and every unsettled promise stays in `pending` until it settles, so the end
 * of a run can wait for the map to empty and report whatever is left. A hang is a lost call: it fails
 * the suite, and so do `unclean` and `wrong`.
 */
import { type Clock, systemClock, type TimerHandle, TrellisError } from '@trellis/core';

export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'error'; readonly code: string }
  | { readonly kind: 'unclean'; readonly what: string }
  | { readonly kind: 'wrong'; readonly what: string }
  | { readonly kind: 'hang' };

export interface OpCounts {
  started: number;
  ok: number;
  errors: Record<string, number>;
  unclean: number;
  wrong: number;
  hangs: number;
}

export interface LedgerSnapshot {
  readonly started: number;
  readonly ok: number;
  readonly failedClean: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly unclean: number;
  readonly wrong: number;
  readonly hangs: number;
  /** Hangs whose promise settled after all, later than its time-out plus slack. */
  readonly late: number;
  /** Calls with no outcome yet (their promise is unsettled and their harness timer has not fired). */
  readonly outstanding: number;
  readonly byOp: Readonly<Record<string, OpCounts>>;
  /** The first few unclean / wrong / hung calls, for the report. */
  readonly examples: readonly string[];
}

export interface LedgerWindow {
  readonly calls: number;
  readonly ok: number;
  readonly errors: number;
  /** Latencies (ms) of the calls that succeeded in the window. */
  readonly latencies: readonly number[];
}

const CODE = /^ERR_[A-Z0-9_]+$/;
const MAX_EXAMPLES = 20;

interface Pending {
  readonly op: string;
  readonly startedAt: number;
  hung: boolean;
}

export class CallLedger {
  readonly #clock: Clock;
  readonly #slackMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #byOp = new Map<string, OpCounts>();
  readonly #errors = new Map<string, number>();
  readonly #examples: string[] = [];
  #seq = 0;
  #started = 0;
  #ok = 0;
  #unclean = 0;
  #wrong = 0;
  #hangs = 0;
  #late = 0;
  #window = { calls: 0, ok: 0, errors: 0, latencies: [] as number[] };
  #drained: (() => void) | undefined;

  constructor(opts: { clock?: Clock; slackMs: number }) {
    this.#clock = opts.clock ?? systemClock;
    this.#slackMs = opts.slackMs;
  }

  /**
   * Runs one call and records its outcome. Never rejects: the outcome is the result. `timeoutMs` is
   * the call's own time-out (the framework's); the harness declares a hang `slackMs` after it.
   */
  run<T>(
    op: string,
    timeoutMs: number,
    fn: () => Promise<T>,
    check?: (value: T) => string | undefined,
  ): Promise<Outcome> {
    const id = ++this.#seq;
    const counts = this.#op(op);
    counts.started++;
    this.#started++;
    this.#window.calls++;
    const rec: Pending = { op, startedAt: this.#clock.now(), hung: false };
    this.#pending.set(id, rec);
    let promise: Promise<T>;
    try {
      promise = fn();
    } catch (e) {
      promise = Promise.reject(e);
    }
    return new Promise<Outcome>((resolve) => {
      let timer: TimerHandle | undefined = this.#clock.setTimeout(() => {
        timer = undefined;
        rec.hung = true;
        this.#hangs++;
        counts.hangs++;
        this.#example(`hang: ${op} had no outcome ${timeoutMs + this.#slackMs} ms after it started`);
        resolve({ kind: 'hang' });
        this.#checkDrained();
      }, timeoutMs + this.#slackMs);
      const settle = (outcome: Outcome | undefined): void => {
        this.#pending.delete(id);
        if (rec.hung) {
          // Already declared lost; it stays lost, and the report says it did end eventually.
          this.#late++;
          this.#checkDrained();
          return;
        }
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        const o = outcome!;
        this.#count(o, counts, rec);
        resolve(o);
        this.#checkDrained();
      };
      promise.then(
        (value) => {
          const problem = check?.(value);
          settle(problem === undefined ? { kind: 'ok' } : { kind: 'wrong', what: problem });
        },
        (err: unknown) => settle(classify(err)),
      );
    });
  }

  /** Calls with no outcome yet. */
  get outstanding(): number {
    let n = 0;
    for (const p of this.#pending.values()) if (!p.hung) n++;
    return n;
  }

  /** Resolves when no call is outstanding, or after `maxMs`; returns how many are left. */
  async drain(maxMs: number): Promise<number> {
    if (this.outstanding === 0) return 0;
    let timer: TimerHandle | undefined;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
      timer = this.#clock.setTimeout(resolve, maxMs);
    });
    if (timer !== undefined) this.#clock.clearTimeout(timer);
    this.#drained = undefined;
    return this.outstanding;
  }

  /** What happened since the last call of takeWindow (throughput and latency samples). */
  takeWindow(): LedgerWindow {
    const w = this.#window;
    this.#window = { calls: 0, ok: 0, errors: 0, latencies: [] };
    return w;
  }

  snapshot(): LedgerSnapshot {
    let failedClean = 0;
    for (const n of this.#errors.values()) failedClean += n;
    const byOp: Record<string, OpCounts> = {};
    for (const [k, v] of this.#byOp) byOp[k] = { ...v, errors: { ...v.errors } };
    return {
      started: this.#started,
      ok: this.#ok,
      failedClean,
      errors: Object.fromEntries(this.#errors),
      unclean: this.#unclean,
      wrong: this.#wrong,
      hangs: this.#hangs,
      late: this.#late,
      outstanding: this.outstanding,
      byOp,
      examples: [...this.#examples],
    };
  }

  #count(o: Outcome, counts: OpCounts, rec: Pending): void {
    switch (o.kind) {
      case 'ok':
        this.#ok++;
        counts.ok++;
        this.#window.ok++;
        this.#window.latencies.push(this.#clock.now() - rec.startedAt);
        return;
      case 'error':
        this.#errors.set(o.code, (this.#errors.get(o.code) ?? 0) + 1);
        counts.errors[o.code] = (counts.errors[o.code] ?? 0) + 1;
        this.#window.errors++;
        return;
      case 'unclean':
        this.#unclean++;
        counts.unclean++;
        this.#window.errors++;
        this.#example(`unclean: ${rec.op}: ${o.what}`);
        return;
      case 'wrong':
        this.#wrong++;
        counts.wrong++;
        this.#window.errors++;
        this.#example(`wrong result: ${rec.op}: ${o.what}`);
        return;
      case 'hang':
        return;
    }
  }

  #op(op: string): OpCounts {
    let c = this.#byOp.get(op);
    if (c === undefined) {
      c = { started: 0, ok: 0, errors: {}, unclean: 0, wrong: 0, hangs: 0 };
      this.#byOp.set(op, c);
    }
    return c;
  }

  #example(line: string): void {
    if (this.#examples.length < MAX_EXAMPLES) this.#examples.push(line);
  }

  #checkDrained(): void {
    if (this.#drained !== undefined && this.outstanding === 0) this.#drained();
  }
}

/** A rejection is clean only as a TrellisError with a stable ERR_ code. */
export function classify(err: unknown): Outcome {
  if (err instanceof TrellisError && CODE.test(err.code)) return { kind: 'error', code: err.code };
  const what =
    err instanceof Error ? `${err.constructor.name} ${err.name}: ${err.message.slice(0, 300)}` : String(err);
  return { kind: 'unclean', what };
}

/** The code of a clean error outcome, else undefined. */
export function codeOf(o: Outcome): string | undefined {
  return o.kind === 'error' ? o.code : undefined;
}
