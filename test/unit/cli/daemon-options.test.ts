// `skiff daemon run` refuses bad settings, from flags or its config file, before it
// starts anything.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
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

describe('skiff daemon run --config', () => {
  afterEach(() => vi.restoreAllMocks());
  const dir = mkdtempSync(join(tmpdir(), 'skiff-daemon-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('takes its settings from the file: a bad one there is refused before anything starts', async () => {
    const cfg = file(
      'pool.json',
      JSON.stringify({ 'default-addr-pool': '10.20.0.0/16', 'default-addr-pool-mask-length': 12 }),
    );
    const r = await run(['daemon', 'run', '--state-dir', '/nonexistent-skiff', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--default-addr-pool-mask-length: "12" must be a whole number from 16');
  });

  it('lets a flag win over the file', async () => {
    const cfg = file(
      'flag.json',
      JSON.stringify({ 'default-addr-pool': 'nope', 'default-addr-pool-mask-length': 12 }),
    );
    const r = await run([
      'daemon',
      'run',
      '--state-dir',
      '/nonexistent-skiff',
      '--config',
      cfg,
      '--default-addr-pool',
      '10.20.0.0/16',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('nope');
    expect(r.stderr).toContain('must be a whole number from 16');
  });

  it('names the file and the setting when the file is wrong', async () => {
    const unknown = await run([
      'daemon',
      'run',
      '--config',
      file('u.json', '{"advertise_addr": "192.0.2.1"}'),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('u.json: unknown setting(s) "advertise_addr"');
    expect(unknown.stderr).toContain('advertise-addr');
    const typed = await run(['daemon', 'run', '--config', file('t.json', '{"log-level": "loud"}')]);
    expect(typed.code).toBe(1);
    expect(typed.stderr).toContain('t.json at "log-level"');
    const json = await run(['daemon', 'run', '--config', file('j.json', '{"port": 2377,')]);
    expect(json.code).toBe(1);
    expect(json.stderr).toContain('j.json: not valid JSON');
    const missing = await run(['daemon', 'run', '--config', join(dir, 'absent.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read the config file');
  });
});
