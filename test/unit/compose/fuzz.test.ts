// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which is what these tests feed in
// Property: whatever the input — random YAML-ish text or a valid file with random damage —
// the loader returns a project or a list of errors with places; it never throws, never
// hangs and never reports an internal error.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { type ComposeFileReader, type LoadResult, loadProjectSync } from '../../../compose/index.js';

// Files live in memory (through the loader's reader interface): the property is about
// the loader, and writing 10,000 files would make the test about the disk.
const file = '/fuzz/compose.yaml';
let current = '';
const reader: ComposeFileReader = {
  readText: (p) => {
    if (p === file) return current;
    throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  },
  isFile: (p) => p === file,
};

function check(text: string): void {
  current = text;
  let r: LoadResult;
  try {
    r = loadProjectSync({ files: [file], env: { A: '1', EMPTY: '' }, reader });
  } catch (e) {
    throw new Error(`threw on:\n${text}\n${String(e)}`);
  }
  if (r.ok) return;
  expect(r.errors.length).toBeGreaterThan(0);
  for (const e of r.errors) {
    expect(typeof e.message).toBe('string');
    expect(Number.isInteger(e.line) && Number.isInteger(e.col)).toBe(true);
    if (e.message.startsWith('internal error')) throw new Error(`internal error on:\n${text}\n${e.message}`);
  }
}

const tokens = [
  'services:',
  '\n',
  '  ',
  '    ',
  '- ',
  ': ',
  'web',
  'image',
  'ports',
  'volumes',
  'environment',
  'depends_on',
  'networks',
  'deploy',
  'replicas',
  'extends',
  'include',
  'profiles',
  'secrets',
  'x-a',
  '"80:80"',
  '8080:80/udp',
  '$A',
  '${A:-x}',
  '${B:?no}',
  '$$',
  '${',
  '}',
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a ',
  '*a',
  '<<: ',
  '!reset ',
  '!override ',
  '#',
  '"',
  "'",
  '---',
  '1m30s',
  '512m',
  'null',
  'true',
  '-1',
  '0440',
  '~',
  '?',
  '|',
  '>',
];
const yamlish = fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((t) => t.join(''));

const corpusDir = join(import.meta.dirname, '../../corpus/compose');
const seeds: unknown[] = [];
for (const e of readdirSync(corpusDir, { withFileTypes: true, recursive: true })) {
  if (!e.isFile() || !/\.ya?ml$/.test(e.name)) continue;
  const text = readFileSync(join(e.parentPath, e.name), 'utf8');
  if (!/^services:/m.test(text) || /!reset|!override/.test(text)) continue;
  seeds.push(yaml.load(text, { schema: yaml.FAILSAFE_SCHEMA.extend({ explicit: [] }) }) ?? {});
}

const jsonValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -70000, max: 70000 }),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    '80:80',
    '/a:/b:ro',
    '${A}',
    '${X:?req}',
    'service:web',
    '1m',
    '10x',
    'web',
    'always',
    'on-failure:3',
  ),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
  fc.dictionary(
    fc.constantFrom('image', 'target', 'source', 'condition', 'x-y', 'bogus'),
    fc.string({ maxLength: 6 }),
    { maxKeys: 3 },
  ),
);

type Mutation = { at: number; kind: 'replace' | 'delete' | 'wrap' | 'add'; value: unknown; key: string };
const mutation = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom<Mutation['kind']>('replace', 'delete', 'wrap', 'add'),
  value: jsonValue,
  key: fc.constantFrom(
    'image',
    'ports',
    'volumes',
    'depends_on',
    'networks',
    'extends',
    'deploy',
    'environment',
    'profiles',
    'build',
    'x-z',
  ),
});

/** Applies one mutation to the n-th node (pre-order) of a deep copy. */
function mutate(root: unknown, m: Mutation): unknown {
  const copy = structuredClone(root);
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v))
      v.forEach((x, i) => {
        nodes.push({ parent: v, key: i });
        walk(x);
      });
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        nodes.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
  };
  walk(copy);
  if (nodes.length === 0) return copy;
  const { parent, key } = nodes[m.at % nodes.length]!;
  const p = parent as Record<string | number, unknown>;
  if (m.kind === 'replace') p[key] = m.value;
  else if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete p[key];
  } else if (m.kind === 'wrap') p[key] = [p[key]];
  else if (p[key] && typeof p[key] === 'object' && !Array.isArray(p[key]))
    (p[key] as Record<string, unknown>)[m.key] = m.value;
  else p[key] = { [m.key]: m.value };
  return copy;
}

// 10,000 cases take about 15 s on an idle 2-core machine; the timeout leaves room for a busy CI host.
const BUSY_HOST_TIMEOUT = 120_000;

describe('loader property', () => {
  it(
    'never throws on random YAML-ish text (5,000 cases)',
    () => {
      fc.assert(
        fc.property(yamlish, (text) => check(text)),
        { numRuns: 5000 },
      );
    },
    BUSY_HOST_TIMEOUT,
  );

  it(
    'never throws on damaged valid files (5,000 cases)',
    () => {
      fc.assert(
        fc.property(
          fc.nat({ max: seeds.length - 1 }),
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          (i, ms) => {
            let doc = seeds[i];
            for (const m of ms) doc = mutate(doc, m);
            check(yaml.dump(doc));
          },
        ),
        { numRuns: 5000 },
      );
    },
    BUSY_HOST_TIMEOUT,
  );

  it('refuses alias bombs instead of expanding them', () => {
    const lines = ['x-0: &a0 [a, a, a, a, a, a, a, a, a, a]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `x-${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    lines.push('services: {}');
    current = lines.join('\n');
    const r = loadProjectSync({ files: [file], env: {}, reader });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]!.message).toContain('expands to more than');
  });
});
