// JSON documents larger than one JS string: V8 caps a string near 512 MiB, and the
// snapshot of a million tasks is about that. Written a piece at a time, read by parsing
// the big containers member by member and handing each small piece to JSON.parse.

const utf8 = new TextDecoder();

/** Builds one UTF-8 JSON document from string pieces without ever joining them into one string. */
export class JsonChunks {
  private readonly chunks: Buffer[] = [];
  private pending: string[] = [];
  private pendingLength = 0;
  private size = 0;

  put(s: string): void {
    this.pending.push(s);
    this.pendingLength += s.length;
    if (this.pendingLength >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const b = Buffer.from(this.pending.join(''), 'utf8');
    this.chunks.push(b);
    this.size += b.length;
    this.pending = [];
    this.pendingLength = 0;
  }

  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.chunks, this.size);
  }
}

/** Below this a document is parsed in one JSON.parse call. */
const ONE_PIECE = 64 << 20;

/**
 * JSON.parse for a UTF-8 document of any size: the same value, or a SyntaxError. A
 * container bigger than `piece` bytes is walked member by member; smaller values go to
 * JSON.parse whole (`piece` is lowered by the tests to exercise the walk).
 */
export function parseBigJson(data: Uint8Array, piece = ONE_PIECE): unknown {
  if (data.length <= piece) return JSON.parse(utf8.decode(data));
  const p = new BigJsonParser(data, piece);
  const v = p.value(p.skipSpace(0));
  if (p.skipSpace(v.end) !== data.length) throw new SyntaxError('unexpected data after the JSON value');
  return v.value;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

class BigJsonParser {
  constructor(
    private readonly b: Uint8Array,
    private readonly piece: number,
  ) {}

  skipSpace(i: number): number {
    const b = this.b;
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
    return i;
  }

  /** The end (exclusive) of the string starting at the quote at `i`. */
  private stringEnd(i: number): number {
    const b = this.b;
    for (let j = i + 1; j < b.length; j++) {
      const c = b[j];
      if (c === BACKSLASH) j++;
      else if (c === QUOTE) return j + 1;
    }
    throw new SyntaxError('unterminated string in JSON');
  }

  /** The end of the value at `i` if it ends within `limit` bytes, else -1. */
  private boundedEnd(i: number, limit: number): number {
    const b = this.b;
    const c = b[i];
    if (c === QUOTE) return this.stringEnd(i);
    if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
      let j = i;
      while (j < b.length) {
        const d = b[j];
        if (
          d === COMMA ||
          d === CLOSE_BRACE ||
          d === CLOSE_BRACKET ||
          d === 0x20 ||
          d === 0x0a ||
          d === 0x0d ||
          d === 0x09
        )
          break;
        j++;
      }
      return j;
    }
    const stop = Math.min(b.length, i + limit);
    let depth = 0;
    for (let j = i; j < stop; j++) {
      const d = b[j];
      if (d === QUOTE) j = this.stringEnd(j) - 1;
      else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    if (stop === b.length) throw new SyntaxError('unterminated JSON container');
    return -1;
  }

  private small(i: number, end: number): unknown {
    return JSON.parse(utf8.decode(this.b.subarray(i, end)));
  }

  value(i: number): { value: unknown; end: number } {
    const end = this.boundedEnd(i, this.piece);
    if (end >= 0) return { value: this.small(i, end), end };
    const b = this.b;
    if (b[i] === OPEN_BRACKET) {
      const out: unknown[] = [];
      let j = this.skipSpace(i + 1);
      if (b[j] === CLOSE_BRACKET) return { value: out, end: j + 1 };
      for (;;) {
        const v = this.value(j);
        out.push(v.value);
        j = this.skipSpace(v.end);
        if (b[j] === COMMA) j = this.skipSpace(j + 1);
        else if (b[j] === CLOSE_BRACKET) return { value: out, end: j + 1 };
        else throw new SyntaxError(`expected , or ] at byte ${j} of the JSON document`);
      }
    }
    const out: Record<string, unknown> = {};
    let j = this.skipSpace(i + 1);
    if (b[j] === CLOSE_BRACE) return { value: out, end: j + 1 };
    for (;;) {
      if (b[j] !== QUOTE) throw new SyntaxError(`expected a key at byte ${j} of the JSON document`);
      const keyEnd = this.stringEnd(j);
      const key = this.small(j, keyEnd) as string;
      j = this.skipSpace(keyEnd);
      if (b[j] !== COLON) throw new SyntaxError(`expected : at byte ${j} of the JSON document`);
      const v = this.value(this.skipSpace(j + 1));
      // As JSON.parse does: a key given twice keeps its last value; __proto__ is a plain key.
      Object.defineProperty(out, key, {
        value: v.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      j = this.skipSpace(v.end);
      if (b[j] === COMMA) j = this.skipSpace(j + 1);
      else if (b[j] === CLOSE_BRACE) return { value: out, end: j + 1 };
      else throw new SyntaxError(`expected , or } at byte ${j} of the JSON document`);
    }
  }
}
