/**
 * How the cluster's commands (`trellis agent`, `trellis certs`, `trellis status --cluster`) read
 * their flags: Node's own `util.parseArgs` (strict), with core's streams and refusal (reason, then
 * usage, exit 2). Each command used to walk its arguments by hand, three copies of one loop that
 * already disagreed on details (a missing value was an empty string in one, skipped in another).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type CliStreams, parseFlagsOr } from '@trellis/core/cli';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What a cluster command runs with (core's CLI streams; a test gives its own). */
export type ClusterCliIo = Partial<CliStreams>;

/** parseArgs's words for what it refused, in the words of our usage lines. */
function refusal(e: unknown): Error {
  const err = e as { code?: string; message: string };
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(err.message)?.[1] ?? err.message;
    return new Error(`unknown argument "${flag}"`);
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const what = /'([^']+)'/.exec(err.message)?.[1] ?? err.message;
    return new Error(`unexpected "${what}"`);
  }
  // Missing or ambiguous values: parseArgs names the flag and the fix itself.
  return new Error(err.message.split('\n')[0] ?? err.message);
}

/**
 * The flags of `args` as `options` declares them (plus `--help`/`-h`, which prints `usage` and
 * answers 'help'), or undefined after writing the refusal and `usage` to stderr (exit 2).
 */
export function parseCliFlags<O extends Options>(
  args: readonly string[],
  options: O,
  io: Pick<CliStreams, 'stdout' | 'stderr'>,
  usage: string,
  allowPositionals = false,
):
  | ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean; strict: true }>>
  | 'help'
  | undefined {
  const parsed = parseFlagsOr(
    () => {
      try {
        return parseArgs({
          args: [...args],
          options: { ...options, help: { type: 'boolean', short: 'h' } },
          allowPositionals,
          strict: true,
        });
      } catch (e) {
        throw refusal(e);
      }
    },
    io.stderr,
    usage,
  );
  if (parsed === undefined) return undefined;
  if ((parsed.values as { help?: boolean }).help === true) {
    io.stdout.write(usage);
    return 'help';
  }
  return parsed as ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean; strict: true }>>;
}

/** A comma-separated list flag (etcd endpoints, DNS names), blanks dropped. */
export function csv(v: string | undefined): string[] {
  return (v ?? '').split(',').filter((s) => s !== '');
}

/** A whole number > 0, or undefined when `v` is absent; NaN when it is something else. */
export function wholeFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : Number.NaN;
}
