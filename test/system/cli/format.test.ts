// docker's --format on a real node: Go templates on ls and inspect, the `table`
// directive, `--format json` on inspect, and a bad template as one clear line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/format-busybox:1';

describe('skiff --format with Go templates', () => {
  let node: TestNode;
  let dir: string;

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-format-'));
    const imp = await importBusybox(node, dir, 'format\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
    for (const name of ['fmt-a', 'fmt-b']) {
      const r = await node.skiff([
        'service',
        'create',
        '--detach',
        '--replicas',
        '0',
        '--name',
        name,
        '--label',
        'tier=front',
        IMAGE,
      ]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('ls prints one rendered line per row; table adds the headers', async () => {
    const names = await node.skiff(['service', 'ls', '--format', '{{.Name}}']);
    expect(names.code, names.stderr).toBe(0);
    expect(names.stdout.split('\n').filter(Boolean).sort()).toEqual(['fmt-a', 'fmt-b']);
    const table = await node.skiff([
      'service',
      'ls',
      '--format',
      'table {{.Name}}\\t{{.Mode}}\\t{{.Replicas}}',
    ]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s{3,}MODE\s{3,}REPLICAS$/);
    expect(lines.slice(1).sort()).toEqual([
      expect.stringMatching(/^fmt-a\s{3,}replicated\s{3,}0\/0$/),
      expect.stringMatching(/^fmt-b\s{3,}replicated\s{3,}0\/0$/),
    ]);
    const images = await node.skiff(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.stdout).toContain(`${IMAGE}\n`);
  });

  it('inspect renders the template per object, and json is the JSON array', async () => {
    const name = await node.skiff(['service', 'inspect', '--format', '{{.Spec.Name}}', 'fmt-a']);
    expect(name.code, name.stderr).toBe(0);
    expect(name.stdout).toBe('fmt-a\n');
    const labels = await node.skiff(['service', 'inspect', '-f', '{{json .Spec.Labels}}', 'fmt-a', 'fmt-b']);
    expect(
      labels.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ tier: 'front' }, { tier: 'front' }]);
    const json = await node.skiff(['service', 'inspect', '--format', 'json', 'fmt-b']);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { Spec: { Name: string } }[])[0]!.Spec.Name).toBe('fmt-b');
    const self = await node.skiff(['node', 'inspect', 'self', '--format', '{{.ID}} {{.Spec.Role}}']);
    expect(self.stdout).toMatch(/^\w+ manager\n$/);
  });

  it('a template error is one clear line: exit 2 when it does not parse, 1 when it fails on the data', async () => {
    const parse = await node.skiff(['service', 'inspect', '--format', '{{.Spec.Name', 'fmt-a']);
    expect(parse.code).toBe(2);
    expect(parse.stderr).toMatch(/bad --format: template: unclosed action/);
    expect(parse.stderr).not.toMatch(/\n\s+at /);
    const field = await node.skiff(['service', 'ls', '--format', '{{.Nope}}']);
    expect(field.code).toBe(1);
    expect(field.stderr.trim()).toBe("error: bad --format: template: can't evaluate field Nope");
  });
});
