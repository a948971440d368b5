/**
 * Taint/quarantine and the circuit breaker: two ways a pool stops feeding calls into something that
 * keeps failing.
 *
 * Taint: a worker whose process died from a crash signal (SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE,
 * or a SIGKILL from the out-of-memory killer), or with the shell-style exit codes
 * 134/137/139, is tainted, and every tool that was running on it at that moment is charged with a
 * crash. A tool charged `crashes` times within `windowMs` is quarantined: refused with
 * ERR_TOOL_QUARANTINED for `cooldownMs`, instead of crash-looping the pool's supervisor.
 *
 * Circuit breaker (off by default): `failures` calls failing with one of `codes` within `windowMs`
 * open it; calls are refused with ERR_CIRCUIT_OPEN for `cooldownMs`; then one probe call is let
 * through (half-open): its success closes the breaker, its failure opens it again.
 */
import { readFileSync } from 'node:fs';
import type { WorkerExit } from '../errors.js';
import type { CircuitBreakerOptions, QuarantineOptions } from './options.js';

const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE']);
const CRASH_CODES = new Set([134, 137, 139]);

/**
 * The kernel's count of out-of-memory kills (`oom_kill` in /proc/vmstat, memory cgroups included),
 * or undefined where it cannot be read.
 */
export function oomKillCount(): number | undefined {
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync('/proc/vmstat', 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True for a crash (see the module comment). A SIGKILL is one only when the out-of-memory killer
 * sent it: the host did not (`killedByHost`) and the kernel's OOM-kill count rose during the
 * worker's life (`oomAtStart`). Anyone else's `kill -9` (an operator, a chaos test) is not the
 * tool's fault and quarantines nothing.
 */
export function isCrash(exit: WorkerExit, killedByHost: boolean, oomAtStart: number | undefined): boolean {
  if (exit.signal === 'SIGKILL') {
    if (killedByHost || oomAtStart === undefined) return false;
    const now = oomKillCount();
    return now !== undefined && now > oomAtStart;
  }
  if (exit.signal !== null) return CRASH_SIGNALS.has(exit.signal);
  return exit.exitCode !== null && CRASH_CODES.has(exit.exitCode);
}

export class Quarantine {
  readonly #o: QuarantineOptions;
  readonly #crashes = new Map<string, number[]>();
  readonly #until = new Map<string, number>();

  constructor(o: QuarantineOptions) {
    this.#o = o;
  }

  /** Charges `tool` with a crash; true when this quarantines it. */
  crashed(tool: string, now: number): boolean {
    const times = (this.#crashes.get(tool) ?? []).filter((t) => now - t < this.#o.windowMs);
    times.push(now);
    this.#crashes.set(tool, times);
    if (times.length >= this.#o.crashes) {
      this.#until.set(tool, now + this.#o.cooldownMs);
      this.#crashes.delete(tool);
      return true;
    }
    return false;
  }

  /** Ms the tool stays refused, or 0. */
  refusedFor(tool: string, now: number): number {
    if (this.#until.size === 0) return 0;
    const until = this.#until.get(tool);
    if (until === undefined) return 0;
    if (now >= until) {
      this.#until.delete(tool);
      return 0;
    }
    return until - now;
  }

  get options(): QuarantineOptions {
    return this.#o;
  }

  /** Quarantined tools and ms left. */
  list(now: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [t, until] of this.#until) if (until > now) out[t] = until - now;
    return out;
  }
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  readonly #o: CircuitBreakerOptions;
  readonly #codes: ReadonlySet<string>;
  #failures: number[] = [];
  #state: CircuitState = 'closed';
  #openedAt = 0;
  #probing = false;
  #lastCount = 0;

  constructor(o: CircuitBreakerOptions) {
    this.#o = o;
    this.#codes = new Set(o.codes);
  }

  /**
   * Before a call: ms it must wait (refused) or 0 to go ahead. In half-open state the first caller
   * becomes the probe; the others are refused until it settles.
   */
  admit(now: number): number {
    if (this.#state === 'closed') return 0;
    if (this.#state === 'open') {
      const left = this.#openedAt + this.#o.cooldownMs - now;
      if (left > 0) return left;
      this.#state = 'half-open';
    }
    if (this.#probing) return 1;
    this.#probing = true;
    return 0;
  }

  /** A call ended; returns the new state when it changed. */
  record(code: string | undefined, now: number): CircuitState | undefined {
    const counts = code !== undefined && this.#codes.has(code);
    if (this.#state === 'half-open' && this.#probing) {
      this.#probing = false;
      if (counts) return this.#open(now);
      this.#state = 'closed';
      this.#failures = [];
      return 'closed';
    }
    if (!counts || this.#state !== 'closed') return undefined;
    this.#failures = this.#failures.filter((t) => now - t < this.#o.windowMs);
    this.#failures.push(now);
    if (this.#failures.length >= this.#o.failures) return this.#open(now);
    return undefined;
  }

  #open(now: number): CircuitState {
    this.#lastCount = Math.max(this.#failures.length, 1);
    this.#state = 'open';
    this.#openedAt = now;
    this.#failures = [];
    return 'open';
  }

  get state(): CircuitState {
    return this.#state;
  }

  get failuresWhenOpened(): number {
    return this.#lastCount;
  }
}
