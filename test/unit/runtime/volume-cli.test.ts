// `skiff volume …` against a node's volume routes (node/api/volumes.ts) over volumes
// prepared with VolumeManager.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VolumeManager } from '../../../agent/volume/index.js';
import { runCli } from '../../../cli/index.js';
import { Manager } from '../../../manager/index.js';
import { registerVolumeRoutes } from '../../../node/api/index.js';

let root: string;
let manager: Manager;

/** Runs the CLI in this process and captures what it prints. */
async function skiff(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await runCli(['--host', `unix://${join(root, 'skiff.sock')}`, ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'skiff-volcli-'));
  const vm = new VolumeManager({ root: join(root, 'volumes') });
  await vm.ensure('alpha', { labels: { tier: 'db' } });
  await vm.ensure('beta');
  await vm.acquire('beta', 'c1');
  manager = await Manager.start({
    stateDir: join(root, 'state'),
    socketPath: join(root, 'skiff.sock'),
    hostname: 'volume-cli-test',
    version: '0.1.0-test',
    extraRoutes: (app) =>
      registerVolumeRoutes(app, () => ({ volumes: vm, containers: { settled: async () => {} } })),
  });
});
afterAll(async () => {
  await manager?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('skiff volume', () => {
  it('lists, inspects, refuses removing a volume in use, prunes the rest', async () => {
    const ls = await skiff('volume', 'ls');
    expect(ls.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).toEqual([
      'DRIVER VOLUME NAME',
      'local alpha',
      'local beta',
      '',
    ]);
    expect((await skiff('volume', 'ls', '-q', '--filter', 'label=tier=db')).stdout).toBe('alpha\n');
    const inspect = JSON.parse((await skiff('volume', 'inspect', 'alpha')).stdout) as {
      Name: string;
      Labels: object;
    }[];
    expect(inspect).toMatchObject([
      { Name: 'alpha', Labels: { tier: 'db' }, Driver: 'local', Scope: 'local' },
    ]);
    const rm1 = await skiff('volume', 'rm', 'beta');
    expect(rm1.code).toBe(1);
    expect(rm1.stderr).toMatch(/volume beta is in use by container\(s\) c1/);
    const missing = await skiff('volume', 'inspect', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such volume: nope/);
    const prune = await skiff('volume', 'prune', '-f');
    expect(prune.stdout).toBe('Deleted Volumes:\nalpha\n\nTotal reclaimed volumes: 1\n');
    expect((await skiff('volume', 'ls', '-q')).stdout).toBe('beta\n');
  });
});
