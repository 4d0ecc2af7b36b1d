// The CRI "k8s-file" log format conmon writes: one record per line,
// `<RFC 3339 time> <stdout|stderr> <P|F> <text>`, where P marks a partial line that
// continues in the next record of the same stream. Pure.
import type { LogEntry } from './types.js';

export interface LogRecord {
  time: Date;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}

export function parseLogRecord(line: string): LogRecord | undefined {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  const time = new Date(line.slice(0, a));
  if (Number.isNaN(time.getTime())) return undefined;
  return { time, stream, partial: tag.split(':').includes('P'), text: c < 0 ? '' : line.slice(c + 1) };
}

/** Joins partial records into whole lines, per stream; feed records in file order. */
export class LineAssembler {
  private readonly pending = new Map<string, { time: Date; text: string }>();

  push(r: LogRecord): LogEntry | undefined {
    const prev = this.pending.get(r.stream);
    const text = (prev?.text ?? '') + r.text;
    const time = prev?.time ?? r.time;
    if (r.partial) {
      this.pending.set(r.stream, { time, text });
      return undefined;
    }
    this.pending.delete(r.stream);
    return { stream: r.stream, time, line: text };
  }
}

/** Whole entries from complete file text (for non-follow reads), with since and tail applied. */
export function parseLogText(text: string, opts: { since?: Date; tail?: number } = {}): LogEntry[] {
  const asm = new LineAssembler();
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const r = parseLogRecord(line);
    if (!r) continue;
    const e = asm.push(r);
    if (e && (!opts.since || e.time >= opts.since)) out.push(e);
  }
  if (opts.tail !== undefined && opts.tail >= 0) return opts.tail === 0 ? [] : out.slice(-opts.tail);
  return out;
}
