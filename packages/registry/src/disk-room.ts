/**
 * Is there room on the registry's filesystem? Asked once at open, before LMDB touches the files.
 *
 * Why: LMDB creates its lock file with ftruncate (a sparse file) and maps it; on a full filesystem the
 * first write to a page that cannot be backed is a SIGBUS, not an error, so the host died with exit
 * 135, printed nothing and left a 0-byte registry.mdb (issue 13, defect 4). Nothing in JavaScript can
 * catch that signal, so the only cure is not to get there: refuse the open while the filesystem has
 * less than `minFreeBytes` (ERR_REGISTRY_UNAVAILABLE, naming the path and the fix). Once open, LMDB
 * writes the data file with pwrite, so a disk that fills later gives ENOSPC on a write, which the
 * store turns into the same error.
 *
 * `statfs` counts the blocks reserved for root (ext4's 5%) as free for root only, as the kernel does.
 */
import { statfsSync } from 'node:fs';

export interface Room {
  readonly freeBytes: number;
  readonly enough: boolean;
}

export function roomOn(dir: string, minFreeBytes: number): Room {
  const s = statfsSync(dir);
  const blocks = process.geteuid?.() === 0 ? s.bfree : s.bavail;
  const freeBytes = blocks * s.bsize;
  return { freeBytes, enough: freeBytes >= minFreeBytes };
}

/** An ENOSPC-shaped error for a refused open, so it is classified and explained like a failed write. */
export function noRoomError(dir: string, room: Room, minFreeBytes: number): Error {
  return Object.assign(
    new Error(
      `No space left on device: ${room.freeBytes} bytes free on the filesystem holding ${dir}, the registry needs at least ${minFreeBytes}`,
    ),
    { code: 'ENOSPC' },
  );
}
