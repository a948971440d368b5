/**
 * Whether a hint to the kernel makes the caller's first read of a mapped result faster: maps a
 * sealed 100 MiB memfd (built and held by a Python process) through the addon with no hint,
 * MADV_SEQUENTIAL, MADV_WILLNEED, MADV_POPULATE_READ and MAP_POPULATE in turn, in interleaved
 * rounds, and times the mapping plus a read of one byte of every page (what the payload suite
 * counts for the host). Prints the median milliseconds of each. Not part of `pnpm bench`; run
 * alone: `node packages/grpc-bridge/dist/bench/map-advice.js [rounds]`.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { median } from './result.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const addon = createRequire(import.meta.url)(
  new URL('../native/trellis_mmap.node', import.meta.url).pathname,
) as { map(path: string, size: number, advice: number): ArrayBuffer | { step: string } };
const N = 100 * 1024 * 1024;
const rounds = Number(process.argv[2] ?? 11);
const MODES = { none: 0, MADV_SEQUENTIAL: 2, MADV_WILLNEED: 3, MADV_POPULATE_READ: 22, MAP_POPULATE: -1 };

const py = spawn(
  'python3',
  [
    '-c',
    'import os,fcntl,sys,mmap\n' +
      `n=${N}\n` +
      'fd=os.memfd_create("trellis-result", os.MFD_ALLOW_SEALING)\n' +
      'os.ftruncate(fd, n)\n' +
      'm=mmap.mmap(fd, n); m[:]=bytes([7])*n; m.close()\n' +
      'fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK|fcntl.F_SEAL_GROW)\n' +
      'print(fd, flush=True)\nsys.stdin.read()\n',
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
try {
  const fd = await new Promise<string>((res) => createInterface({ input: py.stdout! }).once('line', res));
  const path = `/proc/${py.pid}/fd/${fd}`;
  const times = new Map<string, number[]>(Object.keys(MODES).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, advice] of Object.entries(MODES)) {
      const t0 = performance.now();
      const ab = addon.map(path, N, advice);
      if (!(ab instanceof ArrayBuffer)) throw new Error(`map failed: ${JSON.stringify(ab)}`);
      const u = new Uint8Array(ab);
      let sum = 0;
      for (let i = 0; i < N; i += 4096) sum += u[i]!;
      times.get(name)!.push(performance.now() - t0);
      if (sum !== 7 * (N / 4096)) throw new Error('wrong bytes');
      gc();
      await new Promise((res) => setTimeout(res, 100)); // the unmap runs on the addon's thread
    }
  }
  const out = Object.fromEntries([...times].map(([k, v]) => [k, Math.round(median(v) * 10) / 10]));
  process.stdout.write(`${JSON.stringify({ node: process.version, rounds, medianMs: out })}\n`);
} finally {
  py.kill('SIGKILL');
}
