/**
 * What every `trellis <command>` runs with, whichever @trellis package owns it: its output streams,
 * environment and working directory (given by a test, else the process's), and the one way a
 * command refuses flags it cannot parse (why, then its usage, on stderr; exit code 2).
 *
 * Its own file so that the commands of core, the registry and the observer share these lines
 * instead of each writing them again.
 */

export interface CliStreams {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where the user ran the command (relative paths and `./.trellis` are resolved from it). */
  readonly cwd: string;
}

/** The streams given, the process's for the rest. */
export function cliStreams(io: Partial<CliStreams> = {}): CliStreams {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
}

/**
 * `parse()`'s flags; or, when it throws, its message and `usage` written to `stderr` and undefined
 * (the command then exits with 2).
 */
export function parseFlagsOr<T>(parse: () => T, stderr: CliStreams['stderr'], usage: string): T | undefined {
  try {
    return parse();
  } catch (e) {
    stderr.write(`${(e as Error).message}\n${usage}`);
    return undefined;
  }
}
