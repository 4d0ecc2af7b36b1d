// YAML parsing with js-yaml plus a position map. js-yaml is already the project's YAML
// library and is the fastest pure-JS parser; it reports marks on syntax errors, and its
// `listener` hook reports where every node opens, which we fold into a PosNode tree so
// errors about valid-but-wrong values can name file:line:col too.

import yaml from 'js-yaml';
import type { PosNode } from './positions.js';
import type { ComposeError } from './types.js';

function tagType(tag: 'reset' | 'override', kind: 'scalar' | 'sequence' | 'mapping'): yaml.Type {
  return new yaml.Type(`!${tag}`, {
    kind,
    // A reset value is ignored; an override scalar keeps the YAML meaning of its text.
    construct: (data: unknown) => {
      if (tag === 'reset') return null;
      if (kind !== 'scalar') return data;
      return resolveScalar(String(data ?? ''));
    },
  });
}

function resolveScalar(text: string): unknown {
  try {
    return yaml.load(text, { schema: COMPOSE_SCHEMA }) ?? null;
  } catch {
    return text;
  }
}

// CORE (no timestamps, binaries or sets: compose values are plain JSON-like data) plus
// merge keys `<<` and the compose tags.
// js-yaml exports its built-in types at run time; @types/js-yaml does not declare them.
const builtin = (yaml as unknown as { types: Record<'merge' | 'null' | 'bool' | 'int' | 'float', yaml.Type> })
  .types;

// `mode: 0440` is octal for docker compose (Go's YAML reads a leading 0 as octal), and
// compose files rely on it for file modes; YAML 1.2 would read 440.
// Its own tag: js-yaml keeps one implicit type per tag, and the core int must stay too.
const legacyOctal = new yaml.Type('tag:skiff.dev,2026:octal', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && /^0[0-7]+$/.test(data),
  construct: (data: string) => Number.parseInt(data, 8),
});

const COMPOSE_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [builtin.null, builtin.bool, legacyOctal, builtin.int, builtin.float, builtin.merge],
  explicit: (['reset', 'override'] as const).flatMap((t) =>
    (['scalar', 'sequence', 'mapping'] as const).map((k) => tagType(t, k)),
  ),
});

interface Frame {
  start: number;
  children: Frame[];
  result: unknown;
  tag: string | null;
}

export type PosLookup = () => PosNode;

export type ParsedYaml =
  | {
      ok: true;
      value: Record<string, unknown>;
      /** The position tree, built on first use (a second parse that records node positions). */
      pos: PosLookup;
      /** Whether the file uses !reset or !override (merging then needs the position tree). */
      hasTags: boolean;
    }
  | { ok: false; errors: ComposeError[] };

export function parseComposeYaml(text: string, file: string): ParsedYaml {
  let docs: unknown[];
  try {
    docs = loadDocs(text, file, undefined);
  } catch (e) {
    const mark = (e as { mark?: { line: number; column: number } }).mark;
    const reason = (e as { reason?: string }).reason ?? (e instanceof Error ? e.message : String(e));
    return {
      ok: false,
      errors: [
        {
          file,
          line: mark ? mark.line + 1 : 1,
          col: mark ? mark.column + 1 : 1,
          path: '',
          message: `invalid YAML: ${reason}`,
        },
      ],
    };
  }
  const value = docs[0];
  if (docs.length > 1) {
    return {
      ok: false,
      errors: [
        {
          file,
          ...docStart(text, file, 1),
          path: '',
          message: 'a compose file holds one YAML document; this one has several (---)',
        },
      ],
    };
  }
  if (value === undefined || value === null) {
    return { ok: false, errors: [{ file, line: 1, col: 1, path: '', message: 'the compose file is empty' }] };
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      errors: [
        {
          file,
          ...docStart(text, file, 0),
          path: '',
          message: `the top level of a compose file must be a mapping (services:, networks:, …), not ${
            Array.isArray(value) ? 'a sequence' : 'a scalar'
          }`,
        },
      ],
    };
  }
  let cached: PosNode | undefined;
  const pos = () => {
    cached ??= positionTree(text, file);
    return cached;
  };
  return {
    ok: true,
    value: value as Record<string, unknown>,
    pos,
    hasTags: /!(reset|override)\b/.test(text),
  };
}

function loadDocs(text: string, file: string, root: Frame | undefined): unknown[] {
  const docs: unknown[] = [];
  const stack: Frame[] = root ? [root] : [];
  yaml.loadAll(text, (d) => docs.push(d), {
    schema: COMPOSE_SCHEMA,
    filename: file,
    ...(root
      ? {
          listener(event, state) {
            if (event === 'open') {
              const f: Frame = { start: state.position, children: [], result: undefined, tag: null };
              stack[stack.length - 1]!.children.push(f);
              stack.push(f);
            } else if (stack.length > 1) {
              const f = stack.pop()!;
              f.result = state.result;
              f.tag = (state as unknown as { tag?: string | null }).tag ?? null;
            }
          },
        }
      : {}),
  });
  return docs;
}

/** Parses again, recording where every node starts, and folds that into a PosNode tree. */
function positionTree(text: string, file: string): PosNode {
  const root: Frame = { start: 0, children: [], result: undefined, tag: null };
  const docs = loadDocs(text, file, root);
  const docFrame = root.children[0];
  if (!docFrame) return { line: 1, col: 1, keys: new Map() };
  return buildPos(docs[0], docFrame, text, computeLineStarts(text));
}

function docStart(text: string, file: string, index: number): { line: number; col: number } {
  const root: Frame = { start: 0, children: [], result: undefined, tag: null };
  try {
    loadDocs(text, file, root);
  } catch {
    return { line: 1, col: 1 };
  }
  const f = root.children[index];
  if (!f) return { line: 1, col: 1 };
  const p = locate(text, computeLineStarts(text), f.start);
  return { line: p.line, col: p.col };
}

function buildPos(value: unknown, frame: Frame, text: string, lineStarts: number[]): PosNode {
  // Block collections open twice in js-yaml; step through wrappers of the same value.
  let tag = frame.tag;
  while (frame.children.length === 1 && frame.children[0]!.result === value && typeof value === 'object') {
    frame = frame.children[0]!;
    tag ??= frame.tag;
  }
  const node: PosNode = locate(text, lineStarts, frame.start);
  if (tag === '!reset') node.tag = 'reset';
  else if (tag === '!override') node.tag = 'override';
  if (Array.isArray(value)) {
    node.items = [];
    const n = Math.min(value.length, frame.children.length);
    for (let i = 0; i < n; i++) {
      // Stop where the events no longer line up with the values (positions would be wrong).
      if (!Object.is(frame.children[i]!.result, value[i])) break;
      node.items.push(buildPos(value[i], frame.children[i]!, text, lineStarts));
    }
  } else if (value !== null && typeof value === 'object') {
    node.keys = new Map();
    const obj = value as Record<string, unknown>;
    const ch = frame.children;
    for (let i = 0; i + 1 < ch.length; i += 2) {
      const k = ch[i]!;
      const v = ch[i + 1]!;
      if (k.tag === 'tag:yaml.org,2002:merge') continue;
      const key = String(k.result);
      if (!Object.hasOwn(obj, key)) continue;
      if (!Object.is(v.result, obj[key])) break;
      const child = buildPos(obj[key], v, text, lineStarts);
      const kp = locate(text, lineStarts, k.start);
      child.keyLine = kp.line;
      child.keyCol = kp.col;
      node.keys.set(key, child);
    }
  }
  return node;
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line and column of the first meaningful character at or after `pos`. */
function locate(text: string, lineStarts: number[], pos: number): PosNode {
  let p = pos;
  for (;;) {
    const c = text.charCodeAt(p);
    if (c === 32 || c === 9 || c === 10 || c === 13) p++;
    else if (c === 35 /* # */) {
      const nl = text.indexOf('\n', p);
      if (nl === -1) break;
      p = nl + 1;
    } else break;
  }
  if (p > text.length) p = text.length;
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= p) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: p - lineStarts[lo]! + 1 };
}
