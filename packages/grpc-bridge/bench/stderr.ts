/**
 * The `onStderr` path (StderrReader: tail + bounded line splitter, what every worker's stderr goes
 * through) against reading the same pipe raw (a 'data' handler that only counts bytes), in the same
 * run: a child process writes 64 MiB to stderr as fast as it can, either as 1 KiB lines or as one
 * 50 MiB line with no newline (a `\r` progress bar). Figure: time from spawn to the pipe's end.
 *
 * Run alone: `node packages/grpc-bridge/dist/bench/stderr.js` (prints JSON).
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { BRIDGE_DEFAULTS } from '../src/defaults.js';
import { StderrReader } from '../src/worker/stderr-lines.js';
import { type BenchResult, median, pause, round3 } from './result.js';
import { targets } from './targets.js';

const ROUNDS = 9;

/** A child that writes `total` bytes to stderr in 64 KiB writes: lines of `line` bytes, or no newline. */
const WRITER = `
const [total, line] = process.argv.slice(1).map(Number);
const chunk = Buffer.alloc(65536, 0x23);
if (line > 0) for (let i = line - 1; i < chunk.length; i += line) chunk[i] = 0x0a;
let left = total;
const fs = require('node:fs');
while (left > 0) { const n = Math.min(left, chunk.length); left -= fs.writeSync(2, chunk, 0, n); }
`;

async function once(total: number, line: number, mode: 'raw' | 'onStderr'): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', WRITER, String(total), String(line)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let bytes = 0;
  let lines = 0;
  const reader =
    mode === 'onStderr'
      ? new StderrReader(BRIDGE_DEFAULTS.stderrTailBytes, BRIDGE_DEFAULTS.maxStderrLineBytes, () => {
          lines++;
        })
      : undefined;
  child.stderr!.on('data', (d: Buffer) => {
    bytes += d.length;
    reader?.push(d);
  });
  await new Promise<void>((resolve, reject) => {
    child.stderr!.once('end', () => {
      reader?.end();
      resolve();
    });
    child.once('error', reject);
  });
  const ms = performance.now() - t0;
  await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  if (bytes !== total) throw new Error(`read ${bytes} of ${total} bytes`);
  if (reader !== undefined && line > 0 && lines !== total / line) throw new Error(`got ${lines} lines`);
  return ms;
}

async function compare(name: string, total: number, line: number): Promise<BenchResult> {
  await once(total, line, 'raw');
  await once(total, line, 'onStderr');
  const raw: number[] = [];
  const split: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first: a noisy neighbour then hurts each in turn.
    const order: ('raw' | 'onStderr')[] = r % 2 ? ['raw', 'onStderr'] : ['onStderr', 'raw'];
    for (const m of order) {
      await pause(50);
      (m === 'raw' ? raw : split).push(await once(total, line, m));
    }
  }
  const ratios = split.map((s, i) => s / raw[i]!);
  const ratio = median(ratios);
  return {
    name,
    value: round3(median(split)),
    unit: 'ms',
    baseline: round3(median(raw)),
    baselineName: targets.stderr.baseline,
    ratio: round3(ratio),
    target: targets.stderr,
    samples: ratios.map(round3),
  };
}

export async function benchStderr(): Promise<BenchResult[]> {
  const MiB = 1024 * 1024;
  return [
    await compare('onStderr: 64 MiB of stderr as 1 KiB lines', 64 * MiB, 1024),
    await compare('onStderr: one 50 MiB stderr line without a newline', 50 * MiB, 0),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(JSON.stringify(await benchStderr(), null, 2));
