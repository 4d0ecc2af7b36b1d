// Progress for people: on a terminal one line per item, redrawn in place; otherwise a
// plain line each time an item's text changes (logs of CI runs stay readable).

export interface LineSink {
  write(s: string): unknown;
  isTTY?: boolean;
}

export class LiveLines {
  private readonly lines = new Map<string, string>();
  private drawn = 0;
  private readonly tty: boolean;

  constructor(
    private readonly out: LineSink = process.stderr,
    opts: { tty?: boolean } = {},
  ) {
    this.tty = opts.tty ?? out.isTTY === true;
  }

  /** Sets an item's text; a new item gets a new line below the others. */
  set(key: string, text: string): void {
    if (this.lines.get(key) === text) return;
    this.lines.set(key, text);
    if (this.tty) this.draw();
    else this.out.write(`${key}: ${text}\n`);
  }

  private draw(): void {
    const width = Math.max(...[...this.lines.keys()].map((k) => k.length));
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [k, t] of this.lines) s += `\x1b[2K${k.padEnd(width)}  ${t}\n`;
    this.drawn = this.lines.size;
    this.out.write(s);
  }
}
