// docker's --format on a real node: Go templates on ls and inspect, the `table`
// directive, `--format json` on inspect, and a bad template as one clear line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

  it('network, secret and config: create, ls, inspect, rm', async () => {
    const net = await node.skiff(['network', 'create', '--attachable', '--label', 'team=a', 'fmt-net']);
    expect(net.code, net.stderr).toBe(0);
    const nets = await node.skiff(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    expect(nets.stdout).toContain('fmt-net overlay\n');
    const ni = await node.skiff([
      'network',
      'inspect',
      '-f',
      '{{.Name}} {{.Attachable}} {{.Labels.team}}',
      'fmt-net',
    ]);
    expect(ni.stdout).toBe('fmt-net true a\n');

    writeFileSync(join(dir, 'pw.txt'), 's3cret');
    const sec = await node.skiff(['secret', 'create', '--label', 'k=v', 'fmt-pw', join(dir, 'pw.txt')]);
    expect(sec.code, sec.stderr).toBe(0);
    expect((await node.skiff(['secret', 'ls', '--format', '{{.Name}}'])).stdout).toContain('fmt-pw\n');
    const si = await node.skiff(['secret', 'inspect', '--format', 'json', 'fmt-pw']);
    const secrets = JSON.parse(si.stdout) as {
      Spec: { Name: string; Labels: Record<string, string>; Data?: string };
    }[];
    expect(secrets[0]!.Spec.Name).toBe('fmt-pw');
    expect(secrets[0]!.Spec.Labels).toEqual({ k: 'v' });
    expect(secrets[0]!.Spec.Data).toBeUndefined();
    const missing = await node.skiff(['secret', 'create', 'fmt-x', join(dir, 'nope.txt')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.txt: no such file/);

    const cfg = await node.skiff(['config', 'create', 'fmt-cfg', join(dir, 'pw.txt')]);
    expect(cfg.code, cfg.stderr).toBe(0);
    const ci = await node.skiff(['config', 'inspect', '-f', '{{.Spec.Name}} {{.Spec.Data}}', 'fmt-cfg']);
    expect(ci.stdout).toBe(`fmt-cfg ${Buffer.from('s3cret').toString('base64')}\n`);

    for (const [kind, name] of [
      ['network', 'fmt-net'],
      ['secret', 'fmt-pw'],
      ['config', 'fmt-cfg'],
    ] as const) {
      const rm = await node.skiff([kind, 'rm', name]);
      expect(rm.code, rm.stderr).toBe(0);
      expect((await node.skiff([kind, 'ls', '-q', '--filter', `name=${name}`])).stdout).toBe('');
    }
  });
});
