/** Every registry default in one place. */
import { HOME_DEFAULTS } from '@trellis/home';

export const REGISTRY_DEFAULTS = Object.freeze({
  /** Registry directory under the working directory when neither the option nor the env var is set. */
  dirName: HOME_DEFAULTS.dirName,
  /** Environment variable that overrides the default directory (the `dir` option overrides both). */
  homeEnv: HOME_DEFAULTS.homeEnv,
  /** LMDB data file inside the directory; LMDB adds `<fileName>-lock` beside it. */
  fileName: 'registry.mdb',
  /**
   * Free bytes the registry's filesystem must have at open. Below it the open is refused with
   * ERR_REGISTRY_UNAVAILABLE: LMDB maps its files, and a page it cannot back on a full filesystem
   * kills the process with SIGBUS instead of returning an error (disk-room.ts).
   */
  minFreeBytes: 1024 * 1024,
  /** Version of the record layout; a file with another version is moved aside. */
  schemaVersion: 1,
  /** Time between SIGTERM and SIGKILL when stopping or sweeping a process group. */
  graceMs: 5000,
  /** How long to wait for processes to vanish after SIGKILL before reporting them as survivors. */
  killTimeoutMs: 5000,
  /** Interval between `/proc` checks while waiting for processes to exit. */
  pollMs: 20,
  /** How often a running registry checks for dead peer runs on its directory (peer-watch.ts). */
  peerCheckMs: 1000,
  /** After a peer sweep that left survivors, or a failed check, wait this long before the next. */
  peerBackoffMs: 30_000,
  /**
   * An exited child's record that the store refused to remove (a full disk) is tried again this often
   * until it goes (also before every later write).
   */
  removalRetryMs: 1000,
  /** `stopAll` repeats its pass at most this often to catch children activated while it ran. */
  stopRounds: 3,
});
