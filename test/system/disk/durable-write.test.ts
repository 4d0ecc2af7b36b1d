// The one durable write of state files (disk/): the new content with its mode, or the old
// file untouched when the write fails; and, seen in the real syscalls (strace), the file
// synced before its rename and the directory synced after it. The key lock removes the
// clear key only once the locked one is durable.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileDurable } from '../../../disk/index.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-durable-'));
});
afterEach(async () => {
  await run('umount', ['-l', join(dir, 'small')]).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

/** The syscalls of `code` (a module body run by tsx from the repository), one per line. */
async function syscalls(code: string): Promise<string[]> {
  const script = join(dir, 'script.mts');
  writeFileSync(script, code);
  const out = join(dir, 'strace.out');
  await run(
    'strace',
    [
      '-f',
      '-y',
      '-o',
      out,
      '-e',
      'trace=openat,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat',
      process.execPath,
      '--import',
      'tsx',
      script,
    ],
    { cwd: ROOT, timeout: 60_000 },
  );
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir) && !l.includes('script.mts') && !l.includes('= -1 E'));
}

/** The first line at or after `from` that matches, by index; -1 when none. */
function find(lines: string[], re: RegExp, from = 0): number {
  for (let i = from; i < lines.length; i++) if (re.test(lines[i]!)) return i;
  return -1;
}

describe('writeFileDurable', () => {
  it('replaces a file with the new content and mode and leaves no temporary file', async () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, 'old', { mode: 0o644 });
    await writeFileDurable(file, '{"new":true}');
    expect(readFileSync(file, 'utf8')).toBe('{"new":true}');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await writeFileDurable(file, 'public', { mode: 0o644 });
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('leaves the old file intact (and no temporary file) when the write fails', async () => {
    const small = join(dir, 'small');
    await run('mkdir', [small]);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    const file = join(small, 'images.json');
    writeFileSync(file, 'the old records');
    await expect(writeFileDurable(file, Buffer.alloc(1 << 20, 1))).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(file, 'utf8')).toBe('the old records');
    expect(readdirSync(small)).toEqual(['images.json']);
  });

  it('syncs the file before the rename and the directory after it', async () => {
    const file = join(dir, 'node-id');
    const calls = await syscalls(
      `import { writeFileDurable } from '${ROOT}/disk/index.ts';\nawait writeFileDurable(${JSON.stringify(file)}, 'id');\n`,
    );
    const synced = find(calls, /fsync\(\d+<[^>]*\.node-id\.[^>]*\.tmp>/);
    const renamed = find(calls, /rename.*\.node-id\..*\.tmp.*node-id"/, synced + 1);
    const dirSynced = find(calls, new RegExp(`fsync\\(\\d+<${dir}>\\)`), renamed + 1);
    expect({ synced, renamed, dirSynced, calls }).toMatchObject({
      synced: expect.toSatisfy((n: number) => n >= 0),
      renamed: expect.toSatisfy((n: number) => n > synced),
      dirSynced: expect.toSatisfy((n: number) => n > renamed),
    });
  });
});

describe('the key lock', () => {
  it('removes the clear secrets key only after the locked one and its directory entry are synced', async () => {
    const calls = await syscalls(
      [
        `import { loadOrCreateSecretKey, lockSecretsKey, newUnlockKey } from '${ROOT}/manager/store/index.ts';`,
        `const key = await loadOrCreateSecretKey(${JSON.stringify(dir)});`,
        `await lockSecretsKey(${JSON.stringify(dir)}, key, newUnlockKey());`,
        '',
      ].join('\n'),
    );
    const unlinked = find(calls, /unlink.*secrets\.key"/);
    expect(unlinked, calls.join('\n')).toBeGreaterThan(0);
    const before = calls.slice(0, unlinked);
    const synced = find(before, /fsync\(\d+<[^>]*secrets\.key\.locked[^>]*tmp>/);
    const renamed = find(before, /rename.*tmp.*secrets\.key\.locked"/, synced + 1);
    const dirSynced = find(before, new RegExp(`fsync\\(\\d+<${dir}>\\)`), renamed + 1);
    expect({ synced, renamed, dirSynced }, calls.join('\n')).toMatchObject({
      synced: expect.toSatisfy((n: number) => n >= 0),
      renamed: expect.toSatisfy((n: number) => n > synced),
      dirSynced: expect.toSatisfy((n: number) => n > renamed),
    });
  });
});
