import { describe, expect, it } from 'vitest';
import { nodeAt } from '../../../compose/positions.js';
import { parseComposeYaml } from '../../../compose/yaml.js';

describe('parseComposeYaml', () => {
  it('resolves anchors, aliases and merge keys and keeps x- keys', () => {
    const r = parseComposeYaml(
      [
        'x-base: &base',
        '  image: busybox',
        '  environment: {A: "1"}',
        'services:',
        '  a:',
        '    <<: *base',
        '    command: ["true"]',
        '  b: *base',
        '',
      ].join('\n'),
      'c.yaml',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual({
      'x-base': { image: 'busybox', environment: { A: '1' } },
      services: {
        a: { image: 'busybox', environment: { A: '1' }, command: ['true'] },
        b: { image: 'busybox', environment: { A: '1' } },
      },
    });
  });

  it('maps paths to lines and columns', () => {
    const text = [
      'services:',
      '  web:',
      '    image: nginx',
      '    ports:',
      '      - "80:80"',
      '      - target: 81',
      '',
    ].join('\n');
    const r = parseComposeYaml(text, 'c.yaml');
    if (!r.ok) throw new Error('parse failed');
    expect(nodeAt(r.pos(), ['services', 'web', 'image'])).toMatchObject({
      line: 3,
      col: 12,
      keyLine: 3,
      keyCol: 5,
    });
    expect(nodeAt(r.pos(), ['services', 'web', 'ports', 1])).toMatchObject({ line: 6, col: 9 });
    expect(nodeAt(r.pos(), ['services', 'web', 'ports', 1, 'target'])).toMatchObject({
      keyLine: 6,
      keyCol: 9,
    });
  });

  it('leaves out positions it cannot pair with a value rather than misplace them', () => {
    const r = parseComposeYaml('services:\n  a:\n    networks: {front, back: }\n    image: x\n', 'c.yaml');
    if (!r.ok) throw new Error('parse failed');
    const front = nodeAt(r.pos(), ['services', 'a', 'networks', 'front']);
    expect(front === undefined || front.col === 16).toBe(true);
    expect(nodeAt(r.pos(), ['services', 'a', 'image'])).toMatchObject({ line: 4, col: 12 });
  });

  it('marks !reset and !override nodes', () => {
    const r = parseComposeYaml(
      'services:\n  a:\n    ports: !reset []\n    env: !override\n      - A\n',
      'c.yaml',
    );
    if (!r.ok) throw new Error('parse failed');
    expect(nodeAt(r.pos(), ['services', 'a', 'ports'])?.tag).toBe('reset');
    expect(nodeAt(r.pos(), ['services', 'a', 'env'])?.tag).toBe('override');
  });

  it('reports syntax errors with their position', () => {
    const r = parseComposeYaml('services:\n  web:\n    image: [oops\n', 'c.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]).toMatchObject({ file: 'c.yaml', line: 4 });
    expect(r.errors[0]!.message).toMatch(/^invalid YAML/);
  });

  it('rejects duplicate keys, several documents, a non-mapping top level and an empty file', () => {
    const dup = parseComposeYaml('services: {}\nservices: {}\n', 'c.yaml');
    expect(!dup.ok && dup.errors[0]!.message).toContain('duplicated mapping key');
    const multi = parseComposeYaml('services: {}\n---\nservices: {}\n', 'c.yaml');
    expect(!multi.ok && multi.errors[0]).toMatchObject({
      line: 3,
      message: expect.stringContaining('several'),
    });
    const list = parseComposeYaml('- a\n- b\n', 'c.yaml');
    expect(!list.ok && list.errors[0]!.message).toContain('must be a mapping');
    const empty = parseComposeYaml('# nothing\n', 'c.yaml');
    expect(!empty.ok && empty.errors[0]!.message).toContain('empty');
  });

  it('does not turn dates or yes/no into other types', () => {
    const r = parseComposeYaml('x-a: 2024-01-01\nx-b: yes\nx-c: on\n', 'c.yaml');
    expect(r.ok && r.value).toEqual({ 'x-a': '2024-01-01', 'x-b': 'yes', 'x-c': 'on' });
  });
});
