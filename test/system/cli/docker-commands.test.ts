// docker's list commands and their flags on a real node: `node ps`, `service ps
// --filter/--no-trunc`, `network prune` with its filters, `image ls --filter`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/cmds-busybox:1';

describe('docker list commands and prune', () => {
  let node: TestNode;
  let dir: string;

  const ok = async (args: string[]): Promise<string> => {
    const r = await node.skiff(args);
    expect(r.code, `skiff ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-cmds-'));
    const imp = await importBusybox(node, dir, 'cmds\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
    await ok(['service', 'create', '--name', 'ps-web', '--replicas', '2', IMAGE, 'sleep', '3600']);
  }, 180_000);

  afterAll(async () => {
    await node?.skiff(['service', 'rm', 'ps-web']);
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('node ps lists the tasks on this node, filtered and untruncated on request', async () => {
    const rows = (await ok(['node', 'ps', '--format', '{{.Name}} {{.DesiredState}}'])).trim().split('\n');
    expect(rows.sort()).toEqual(['ps-web.1 Running', 'ps-web.2 Running']);
    const self = (await ok(['node', 'inspect', 'self', '--format', '{{.ID}}'])).trim();
    const byId = await ok(['node', 'ps', '-q', self]);
    expect(byId.trim().split('\n')).toHaveLength(2);
    const ids = (await ok(['node', 'ps', '--no-trunc', '--format', '{{.ID}}'])).trim().split('\n');
    expect(ids.every((id) => id.length === 25)).toBe(true);
    const short = (await ok(['node', 'ps', '--format', '{{.ID}}'])).trim().split('\n');
    expect(short.every((id) => id.length === 12)).toBe(true);
    const table = await ok(['node', 'ps', '--no-resolve']);
    expect(table.split('\n')[0]).toMatch(/^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR/);
    expect(table).toContain(self);
    const missing = await node.skiff(['node', 'ps', 'no-such-node']);
    expect(missing.code).toBe(1);
  });

  it('service ps and stack ps take docker filters', async () => {
    const one = await ok(['service', 'ps', '--filter', 'name=ps-web.2', '--format', '{{.Name}}', 'ps-web']);
    expect(one).toBe('ps-web.2\n');
    const none = await ok(['service', 'ps', '-f', 'desired-state=shutdown', '-q', 'ps-web']);
    expect(none).toBe('');
    const bad = await node.skiff(['service', 'ps', '-f', 'colour=red', 'ps-web']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("invalid filter 'colour'");
  });

  it('network prune removes unused networks matching its filters, and keeps the rest', async () => {
    await ok(['network', 'create', '--label', 'keep=yes', 'prune-keep']);
    await ok(['network', 'create', '--label', 'keep=no', 'prune-drop']);
    await ok(['network', 'create', 'prune-used']);
    await ok([
      'service',
      'create',
      '--name',
      'net-user',
      '--replicas',
      '0',
      '--network',
      'prune-used',
      IMAGE,
    ]);
    try {
      const pruned = await ok(['network', 'prune', '-f', '--filter', 'label=keep=no']);
      expect(pruned).toBe('Deleted Networks:\nprune-drop\n');
      const until = await ok(['network', 'prune', '--force', '--filter', 'until=1h']);
      expect(until).toBe('');
      const rest = await ok(['network', 'prune', '-f']);
      expect(rest).toBe('Deleted Networks:\nprune-keep\n');
      const names = await ok(['network', 'ls', '--format', '{{.Name}}']);
      expect(names).toContain('prune-used\n');
      expect(names).not.toContain('prune-keep');
    } finally {
      await node.skiff(['service', 'rm', 'net-user']);
      await waitFor(async () => (await node.skiff(['network', 'rm', 'prune-used'])).code === 0, {
        what: 'prune-used to be removable',
        timeoutMs: 30_000,
      });
    }
  });

  it('image ls filters by reference and dangling, and refuses what it cannot filter by', async () => {
    expect(await ok(['image', 'ls', '-f', 'reference=localhost/cmds-*', '--format', '{{.Repository}}'])).toBe(
      'localhost/cmds-busybox\n',
    );
    expect(await ok(['image', 'ls', '-f', 'reference=nothing-like-it', '-q'])).toBe('');
    expect(await ok(['image', 'ls', '-f', 'dangling=true', '-q'])).toBe('');
    const full = (
      await ok(['image', 'ls', '--no-trunc', '-q', '-f', 'reference=localhost/cmds-busybox'])
    ).trim();
    expect(full).toMatch(/^sha256:[0-9a-f]{64}$/);
    const bad = await node.skiff(['image', 'ls', '-f', 'before=x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unsupported filter "before"');
  });
});
