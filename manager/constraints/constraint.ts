// Placement constraints (`node.labels.zone==a`, `node.role!=manager`) parsed once
// and matched against a node. Values compare case-insensitively, as Docker does.

import { type Node, SkiffError } from '../../lib/index.js';
import { normalizeArch } from './platform.js';

export type ConstraintKey =
  | { kind: 'node.id' }
  | { kind: 'node.hostname' }
  | { kind: 'node.role' }
  | { kind: 'node.platform.os' }
  | { kind: 'node.platform.arch' }
  | { kind: 'node.labels'; label: string }
  | { kind: 'engine.labels'; label: string };

export interface Constraint {
  /** The text as written, for messages. */
  text: string;
  key: ConstraintKey;
  op: '==' | '!=';
  value: string;
}

const FIXED_KEYS = [
  'node.id',
  'node.hostname',
  'node.role',
  'node.platform.os',
  'node.platform.arch',
] as const;
const EXPR = /^\s*([A-Za-z0-9_.\-/]+)\s*(==|!=)\s*(\S(?:.*\S)?)\s*$/;

/** Parses one constraint; throws SkiffError('invalid_argument') naming the bad part. */
export function parseConstraint(text: string): Constraint {
  const m = EXPR.exec(text);
  if (!m) {
    throw new SkiffError(
      'invalid_argument',
      `invalid placement constraint "${text}": expected KEY==VALUE or KEY!=VALUE`,
      { hint: 'for example node.labels.zone==a or node.role!=manager' },
    );
  }
  const rawKey = m[1]!;
  const op = m[2] as '==' | '!=';
  const value = m[3]!;
  const key = parseAttributeKey(rawKey);
  if (!key) {
    throw new SkiffError(
      'invalid_argument',
      `invalid placement constraint "${text}": unknown key "${rawKey}"`,
      {
        hint: `use one of ${FIXED_KEYS.join(', ')}, node.labels.<name> or engine.labels.<name>`,
      },
    );
  }
  return { text, key, op, value };
}

/** Parses a node attribute name as constraints and spread preferences write it. */
export function parseAttributeKey(rawKey: string): ConstraintKey | undefined {
  const lower = rawKey.toLowerCase();
  for (const fixed of FIXED_KEYS) if (lower === fixed) return { kind: fixed };
  for (const prefix of ['node.labels.', 'engine.labels.'] as const) {
    if (lower.startsWith(prefix) && rawKey.length > prefix.length) {
      // Label names keep their case: only the prefix is case-insensitive.
      const label = rawKey.slice(prefix.length);
      return prefix === 'node.labels.' ? { kind: 'node.labels', label } : { kind: 'engine.labels', label };
    }
  }
  return undefined;
}

export function parseConstraints(texts: readonly string[] | undefined): Constraint[] {
  return (texts ?? []).map(parseConstraint);
}

/** The node's value for a key, or undefined when the node has none (e.g. a missing label). */
export function nodeValue(node: Node, key: ConstraintKey): string | undefined {
  switch (key.kind) {
    case 'node.id':
      return node.ID;
    case 'node.hostname':
      return node.Description?.Hostname;
    case 'node.role':
      return node.Spec.Role ?? 'worker';
    case 'node.platform.os':
      return node.Description?.Platform?.OS;
    case 'node.platform.arch':
      return node.Description?.Platform?.Architecture;
    case 'node.labels':
      return node.Spec.Labels?.[key.label];
    case 'engine.labels':
      return node.Description?.Engine?.Labels?.[key.label];
  }
}

export function constraintMatches(node: Node, c: Constraint): boolean {
  const actual = nodeValue(node, c.key);
  let equal = actual !== undefined && actual.toLowerCase() === c.value.toLowerCase();
  if (!equal && actual !== undefined && c.key.kind === 'node.platform.arch') {
    equal = normalizeArch(actual) === normalizeArch(c.value);
  }
  // A node without the label never equals a value and always differs from one.
  return c.op === '==' ? equal : !equal;
}

export function nodeMatchesConstraints(node: Node, cs: readonly Constraint[]): boolean {
  for (const c of cs) if (!constraintMatches(node, c)) return false;
  return true;
}
