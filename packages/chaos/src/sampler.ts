/**
 * Resource samples of the system under test, read from /proc: RSS and open file descriptors of the
 * host process and of every Python worker, plus the throughput and latency of the calls finished in
 * the sample's window.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { LedgerWindow } from './ledger.js';
import { percentile } from './stats.js';

export interface WorkerSample {
  /** `pool-a/0`: pool and slot (a restarted worker keeps its slot, with a new pid). */
  readonly label: string;
  readonly pid: number;
  readonly rssBytes: number | undefined;
  readonly fds: number | undefined;
}

export interface ResourceSample {
  /** Run offset (ms since the suite started). */
  readonly tMs: number;
  readonly hostRssBytes: number;
  readonly hostHeapUsedBytes: number;
  readonly hostFds: number | undefined;
  readonly calls: number;
  readonly ok: number;
  readonly errors: number;
  /** Calls finished per second over the window. */
  readonly throughput: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly workers: readonly WorkerSample[];
  /** The machine's 1-minute load average (other engineers share the 2 cores). */
  readonly load1: number;
}

export function fdCount(pid: number | 'self'): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

export function rssBytesOf(pid: number | 'self'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function takeSample(
  tMs: number,
  windowMs: number,
  w: LedgerWindow,
  workers: readonly { label: string; pid: number }[],
): ResourceSample {
  const sorted = [...w.latencies].sort((a, b) => a - b);
  const mem = process.memoryUsage();
  return {
    tMs,
    hostRssBytes: mem.rss,
    hostHeapUsedBytes: mem.heapUsed,
    hostFds: fdCount('self'),
    calls: w.calls,
    ok: w.ok,
    errors: w.errors,
    throughput: windowMs > 0 ? (w.ok + w.errors) / (windowMs / 1000) : 0,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    workers: workers.map((x) => ({ ...x, rssBytes: rssBytesOf(x.pid), fds: fdCount(x.pid) })),
    load1: loadavg()[0]!,
  };
}
