/**
 * The example's live progress line: rewritten in place (\r) on a terminal, printed as periodic
 * lines when stdout is a file or a pipe (CI logs).
 */
export class Progress {
  readonly #tty = process.stdout.isTTY === true;
  readonly #total: number;
  #lastLine = 0;
  #width = 0;

  constructor(total: number) {
    this.#total = total;
  }

  update(done: number, text: string): void {
    const line = `[${bar(done / this.#total)}] ${String(done).padStart(String(this.#total).length)}/${this.#total} ${text}`;
    if (this.#tty) {
      process.stdout.write(`\r${line.padEnd(this.#width)}`);
      this.#width = line.length;
      return;
    }
    // Not a terminal: one line per 20% of the calls, and the last one.
    const step = Math.max(1, Math.floor(this.#total / 5));
    if (done === this.#total || done - this.#lastLine >= step) {
      this.#lastLine = done;
      process.stdout.write(`${line}\n`);
    }
  }

  /** Prints a message on its own line without garbling the progress line. */
  note(message: string): void {
    if (this.#tty) {
      process.stdout.write(`\r${' '.repeat(this.#width)}\r${message}\n`);
      this.#width = 0;
    } else process.stdout.write(`${message}\n`);
  }

  end(): void {
    if (this.#tty) process.stdout.write('\n');
  }
}

function bar(fraction: number, width = 24): string {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return '#'.repeat(full) + '.'.repeat(width - full);
}
