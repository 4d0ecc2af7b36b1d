// `skiff daemon run` refuses a bad address pool before it starts anything.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../cli/program.js';

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  return { code: await runCli(args), stderr };
}

describe('skiff daemon run --default-addr-pool', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ['10.20.0.0', 'is not an IPv4 pool'],
    ['10.300.0.0/16', 'is not an IPv4 pool'],
    ['10.20.0.0/4', 'prefix 8 to 29'],
    ['10.20.0.0/16,nope', '"nope" is not an IPv4 pool'],
  ])('refuses %s with a usage error', async (pool, message) => {
    const r = await run(['daemon', 'run', '--state-dir', '/nonexistent-skiff', '--default-addr-pool', pool]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage: skiff daemon run');
  });

  it('refuses a mask length wider than the pool', async () => {
    const r = await run([
      'daemon',
      'run',
      '--state-dir',
      '/nonexistent-skiff',
      '--default-addr-pool',
      '10.20.0.0/16',
      '--default-addr-pool-mask-length',
      '12',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be a whole number from 16');
  });
});
