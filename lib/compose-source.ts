// A stack service's section of its compose files, as the user wrote it, travels from the
// deployer (`stack deploy`, `compose up`) to the dashboard in a service label
// (COMPOSE_SOURCE_LABEL) as JSON. This is its one codec. Checked by hand, not with zod:
// lib is loaded by every CLI command and by the dashboard's browser bundle.
import { SkiffError } from './errors.js';

/** One file's section of a service: the text between its key and the next service's. */
export interface ComposeSourcePart {
  /** The file, relative to the project directory when inside it. */
  file: string;
  /** The 1-based line the section starts on in that file. */
  line: number;
  /** The text as written: comments kept, `${VAR}` not interpolated. */
  text: string;
}

export interface ComposeSource {
  /** In the order the files were merged (the last one wins where they overlap). */
  parts: ComposeSourcePart[];
  /** Set when the text was cut at the cap: how many bytes the sections held in all. */
  truncatedFrom?: number;
}

/**
 * The most text (UTF-8 bytes, all parts together) the label carries. The label is in the
 * service's spec, so in every raft proposal that changes the service and in its
 * PreviousSpec: a typical section is well under 2 KiB; past the cap the text is cut at a
 * line end and the label says how much there was.
 */
export const COMPOSE_SOURCE_MAX_BYTES = 16 * 1024;

const utf8 = new TextEncoder();
const bytesOf = (s: string) => utf8.encode(s).length;

/** The label's value, capped at COMPOSE_SOURCE_MAX_BYTES of text. */
export function encodeComposeSource(
  parts: readonly ComposeSourcePart[],
  maxBytes = COMPOSE_SOURCE_MAX_BYTES,
): string {
  const total = parts.reduce((n, p) => n + bytesOf(p.text), 0);
  if (total <= maxBytes)
    return JSON.stringify({ parts: parts.map(({ file, line, text }) => ({ file, line, text })) });
  const kept: ComposeSourcePart[] = [];
  let left = maxBytes;
  for (const p of parts) {
    const size = bytesOf(p.text);
    if (size <= left) {
      kept.push({ file: p.file, line: p.line, text: p.text });
      left -= size;
      continue;
    }
    // The whole lines that fit; a part with none left is dropped.
    let text = '';
    for (const l of p.text.split('\n')) {
      const next = text === '' ? l : `${text}\n${l}`;
      if (bytesOf(next) > left) break;
      text = next;
    }
    if (text !== '') kept.push({ file: p.file, line: p.line, text });
    break;
  }
  return JSON.stringify({ parts: kept, truncatedFrom: total } satisfies ComposeSource);
}

/** Parses the label's value; throws an 'invalid_argument' SkiffError saying what is wrong. */
export function decodeComposeSource(label: string): ComposeSource {
  let json: unknown;
  try {
    json = JSON.parse(label);
  } catch (e) {
    throw new SkiffError('invalid_argument', `compose source label is not JSON: ${(e as Error).message}`);
  }
  const bad = (why: string) =>
    new SkiffError('invalid_argument', `compose source label is malformed: ${why}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('expected an object');
  const o = json as Record<string, unknown>;
  if (!Array.isArray(o.parts)) throw bad('expected parts to be an array');
  const parts = o.parts.map((p: unknown, i): ComposeSourcePart => {
    const x = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
    if (typeof x.file !== 'string') throw bad(`parts[${i}].file: expected a string`);
    if (typeof x.line !== 'number' || !Number.isInteger(x.line))
      throw bad(`parts[${i}].line: expected a line number`);
    if (typeof x.text !== 'string') throw bad(`parts[${i}].text: expected a string`);
    return { file: x.file, line: x.line, text: x.text };
  });
  if (o.truncatedFrom !== undefined && typeof o.truncatedFrom !== 'number')
    throw bad('truncatedFrom: expected a number');
  return { parts, ...(typeof o.truncatedFrom === 'number' ? { truncatedFrom: o.truncatedFrom } : {}) };
}
