/**
 * The `disk-full` fault (issue 13, defect 4): the filesystem under TRELLIS_HOME fills up while the
 * system runs. Guarantee under test: the host does not die (LMDB on a full disk used to mean SIGBUS),
 * a spawn that needs a registry record is refused with ERR_REGISTRY_UNAVAILABLE, and once the space
 * is back everything goes on (the end-of-run checks: no lost call, no orphan).
 *
 * The fault writes a filler file until ENOSPC, then reserves records through the installed process
 * tracker (the registry) until one is refused: LMDB first reuses free pages inside its file, so the
 * refusal comes when the file must grow. The window is kept short (the probe, then `holdMs`), because
 * a worker that dies meanwhile cannot be replaced until the space is back. Then the filler is removed
 * and the probe's reservations (records without a process) are released.
 */
import { closeSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { getProcessTracker } from '@trellis/core';

export interface DiskFillResult {
  /** Bytes written before ENOSPC. */
  readonly filledBytes: number;
  /** Reservations accepted before the refusal. */
  readonly acceptedBeforeRefusal: number;
  /** The refusal's code (ERR_REGISTRY_UNAVAILABLE expected), or undefined when none came. */
  readonly refusalCode: string | undefined;
  readonly refusalMessage: string | undefined;
  /** How long the disk was full, ms. */
  readonly fullMs: number;
}

const CHUNK = 1024 * 1024;
/** The filler's name is this plus the pid of the host that wrote it. */
const FILLER_PREFIX = 'chaos-disk-full-';

/**
 * Removes the fillers a host left in `home` (their names); the driver calls it before the fresh
 * start. A host killed -9 (or dead of its own) while the fault held the disk full never ran the
 * fault's clean-up: its filler kept the home full, and run B's registry could not open there ("run B
 * never became ready", seed 1654141691, whose run A died during a disk-full fault).
 */
export function removeLeftFillers(home: string): string[] {
  const left = readdirSync(home).filter((n) => n.startsWith(FILLER_PREFIX));
  for (const n of left) rmSync(join(home, n), { force: true });
  return left;
}

/** Bounds: the home is tens of MiB, the probe a few hundred records. */
const MAX_CHUNKS = 4096;
const MAX_PROBES = 2000;

/** `onFull`: called once the registry refused a record, before the hold (what a test does meanwhile). */
export async function fillDisk(home: string, holdMs: number, onFull?: () => void): Promise<DiskFillResult> {
  const tracker = getProcessTracker();
  if (tracker === undefined) throw new Error('no process tracker installed: the registry is not running');
  const path = join(home, `${FILLER_PREFIX}${process.pid}`);
  const fd = openSync(path, 'w');
  let filledBytes = 0;
  const t0 = performance.now();
  const reservations: string[] = [];
  let refusal: { code?: unknown; message?: unknown } | undefined;
  try {
    try {
      for (let i = 0; i < MAX_CHUNKS; i++) filledBytes += writeSync(fd, Buffer.alloc(CHUNK, 1));
      for (let i = 0; i < MAX_CHUNKS; i++) filledBytes += writeSync(fd, Buffer.alloc(512, 1));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      // The last partial block.
      try {
        for (let i = 0; i < MAX_CHUNKS; i++) filledBytes += writeSync(fd, Buffer.alloc(512, 1));
      } catch {
        // full
      }
    }
    for (let i = 0; i < MAX_PROBES && refusal === undefined; i++) {
      try {
        reservations.push(
          await tracker.reserve({
            role: 'chaos',
            name: `disk-full-probe-${i}`,
            command: 'none',
            args: ['x'.repeat(4000)],
          }),
        );
      } catch (err) {
        refusal = err as { code?: unknown; message?: unknown };
      }
    }
    if (refusal !== undefined) onFull?.();
    await new Promise((r) => setTimeout(r, holdMs));
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  const fullMs = performance.now() - t0;
  for (const id of reservations) {
    try {
      await tracker.untrack(id);
    } catch {
      // Left as a reservation without a process: the orderly stop's marker scan resolves it.
    }
  }
  return {
    filledBytes,
    acceptedBeforeRefusal: reservations.length,
    refusalCode: typeof refusal?.code === 'string' ? refusal.code : undefined,
    refusalMessage: typeof refusal?.message === 'string' ? refusal.message : undefined,
    fullMs,
  };
}
