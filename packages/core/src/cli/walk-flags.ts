/**
 * The argument loop of the commands that read their flags by hand (`trellis status`, `trellis logs`,
 * `trellis registry`): one flag at a time, `--name=value` or `--name value`, with the same refusal
 * for a missing value or a bad count in every command. It was written out in each of them.
 * (The cluster's commands use node's util.parseArgs through their cli-flags.ts instead.)
 */

/** The flag being read: `name` without its inline `=value`; `value()` and `count()` take its value. */
export interface FlagCursor {
  /** The argument as given (for "unknown option" refusals). */
  readonly arg: string;
  readonly name: string;
  /** Its value: the inline `=value`, else the next argument (consumed); throws when there is none. */
  value(): string;
  /** Its value as a whole number >= min; throws otherwise. */
  count(min?: number): number;
}

/** Calls `onFlag` for each flag of `args`; what it throws is the refusal (see parseFlagsOr). */
export function walkFlags(args: readonly string[], onFlag: (flag: FlagCursor) => void): void {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new Error(`${name} needs a value`);
      return v;
    };
    const count = (min = 0): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min) throw new Error(`${name} needs a whole number >= ${min}`);
      return n;
    };
    onFlag({ arg, name, value, count });
  }
}
