/**
 * Live progress of a run on a terminal: the status block (one progress bar per stage) is redrawn in place every
 * second; other output is printed above it. Without a TTY the block is printed when something other than the
 * numbers changes, and at most every `plainEverySeconds` otherwise (log files stay readable).
 */
import { statusLines } from './format';
import type { PipelineStatus } from '../../contract';

export class LiveStatus {
  private drawn = 0;
  private lastPlainKey = '';
  private lastPlainAt = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly plainEverySeconds = 15,
  ) {}

  private get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  show(status: PipelineStatus): void {
    const lines = statusLines(status);
    if (this.tty) {
      this.clear();
      this.out.write(`${lines.join('\n')}\n`);
      this.drawn = lines.length;
      return;
    }
    const key = JSON.stringify(status.stages.map((s) => [s.name, s.state, s.attempts]));
    const now = Date.now();
    if (key !== this.lastPlainKey || now - this.lastPlainAt >= this.plainEverySeconds * 1000) {
      this.out.write(`${lines.join('\n')}\n`);
      this.lastPlainKey = key;
      this.lastPlainAt = now;
    }
  }

  /** Prints a line above the status block. */
  print(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
  }

  /** Leaves the last block on screen and stops redrawing over it. */
  release(): void {
    this.drawn = 0;
  }

  private clear(): void {
    if (this.tty && this.drawn > 0) this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }
}
