// `skiff volume …` against a state directory prepared with VolumeManager.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VolumeManager } from '../../../agent/volume/index.js';

const MAIN = join(import.meta.dirname, '../../../cli/main.ts');
let root: string;

function skiff(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'skiff-volcli-'));
  const vm = new VolumeManager({ root: join(root, 'volumes') });
  await vm.ensure('alpha', { labels: { tier: 'db' } });
  await vm.ensure('beta');
  await vm.acquire('beta', 'c1');
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('skiff volume', () => {
  it('lists, inspects, refuses removing a volume in use, prunes the rest', () => {
    const ls = skiff('volume', 'ls', '--root', root);
    expect(ls.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).toEqual([
      'DRIVER VOLUME NAME',
      'local alpha',
      'local beta',
      '',
    ]);
    expect(skiff('volume', 'ls', '-q', '--filter', 'label=tier=db', '--root', root).stdout).toBe('alpha\n');
    const inspect = JSON.parse(skiff('volume', 'inspect', 'alpha', '--root', root).stdout) as {
      Name: string;
      Labels: object;
    }[];
    expect(inspect).toMatchObject([
      { Name: 'alpha', Labels: { tier: 'db' }, Driver: 'local', Scope: 'local' },
    ]);
    const rm1 = skiff('volume', 'rm', 'beta', '--root', root);
    expect(rm1.code).toBe(1);
    expect(rm1.stderr).toMatch(/volume beta is in use by container\(s\) c1/);
    const missing = skiff('volume', 'inspect', 'nope', '--root', root);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such volume: nope/);
    const prune = skiff('volume', 'prune', '-f', '--root', root);
    expect(prune.stdout).toBe('Deleted Volumes:\nalpha\n\nTotal reclaimed volumes: 1\n');
    expect(skiff('volume', 'ls', '-q', '--root', root).stdout).toBe('beta\n');
  });
});
