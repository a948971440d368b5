/** Counting of one fuzz kind: inputs tried, how each ended, and whether the target still served. */

export interface FuzzKindResult {
  readonly kind: string;
  readonly planned: number;
  readonly inputs: number;
  readonly clean: number;
  readonly unclean: number;
  /** After every input, the worker (or supervisor) served a good request. */
  readonly servedAfter: boolean;
  /** How the inputs ended: a TrellisError code, a gRPC status, `goaway`, `closed`, `ok`, ... */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly examples: readonly string[];
}

const MAX_EXAMPLES = 10;

export class Tally {
  readonly kind: string;
  readonly planned: number;
  inputs = 0;
  clean = 0;
  unclean = 0;
  servedAfter = true;
  readonly #outcomes = new Map<string, number>();
  readonly #examples: string[] = [];

  constructor(kind: string, planned: number) {
    this.kind = kind;
    this.planned = planned;
  }

  add(outcome: string, clean: boolean, describeInput: () => string): void {
    this.inputs++;
    if (clean) this.clean++;
    else {
      this.unclean++;
      this.example(`${outcome} for ${describeInput()}`);
    }
    this.#outcomes.set(outcome, (this.#outcomes.get(outcome) ?? 0) + 1);
  }

  notServing(detail: string): void {
    this.servedAfter = false;
    this.example(`did not serve afterwards: ${detail}`);
  }

  example(line: string): void {
    if (this.#examples.length < MAX_EXAMPLES) this.#examples.push(line.slice(0, 500));
  }

  result(): FuzzKindResult {
    return {
      kind: this.kind,
      planned: this.planned,
      inputs: this.inputs,
      clean: this.clean,
      unclean: this.unclean,
      servedAfter: this.servedAfter,
      outcomes: Object.fromEntries([...this.#outcomes].sort((a, b) => b[1] - a[1])),
      examples: [...this.#examples],
    };
  }
}

/** Short printable form of fuzz input bytes. */
export function hexHead(b: Buffer, n = 48): string {
  return `${b.length} bytes ${b.subarray(0, n).toString('hex')}${b.length > n ? '...' : ''}`;
}
